import hashlib

from idgate.secrets_util import SESSION_ID, hash_pin, new_id, pin_matches, same_secret, sha256_hex


def test_pin_hashes_are_salted_and_verify_only_the_right_pin():
    first, second = hash_pin("293812"), hash_pin("293812")
    assert first != second
    assert "293812" not in first
    assert pin_matches("293812", first)
    assert pin_matches("293812", second)
    assert not pin_matches("293813", first)


def test_a_corrupt_pin_hash_matches_nothing():
    assert not pin_matches("293812", "garbage")


def test_ids_carry_their_prefix_and_are_unique():
    ids = {new_id("ses") for _ in range(200)}
    assert len(ids) == 200
    assert all(value.startswith("ses_") and len(value) > 20 for value in ids)


def test_secrets_are_compared_by_hash():
    assert same_secret("cs_abc", sha256_hex("cs_abc"))
    assert not same_secret("cs_abd", sha256_hex("cs_abc"))


def test_a_session_id_carries_120_random_bits():
    # 15 random bytes, 20 URL-safe characters: the ids the table holds (SESSION_ID allows 16 to 64).
    value = new_id("ses")
    assert len(value) == len("ses_") + 20
    assert SESSION_ID.fullmatch(value)


def test_a_pin_hash_names_its_scheme_and_iterations_and_holds_a_16_byte_salt():
    # What the table holds is readable by the next version of this code: scheme, iterations, salt, digest.
    scheme, iterations, salt, digest = hash_pin("293812").split("$")
    assert (scheme, iterations) == ("pbkdf2_sha256", "100000")
    assert len(bytes.fromhex(salt)) == 16
    expected = hashlib.pbkdf2_hmac("sha256", b"293812", bytes.fromhex(salt), 100_000)
    assert digest == expected.hex()
