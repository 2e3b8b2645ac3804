from idgate.secrets_util import hash_pin, new_id, pin_matches, same_secret, sha256_hex


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
