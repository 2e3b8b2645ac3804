import base64

from idgate.qr import image_data_uri, qr_data_uri

PNG_1X1 = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()


def test_generated_qr_codes_are_png_data_uris():
    uri = qr_data_uri("https://example.com/verify?x=1")
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"\x89PNG")


def test_a_bare_base64_image_becomes_a_data_uri_of_its_type():
    assert image_data_uri(PNG_1X1) == f"data:image/png;base64,{PNG_1X1}"


def test_a_data_uri_is_kept():
    assert image_data_uri(f"data:image/png;base64,{PNG_1X1}") == f"data:image/png;base64,{PNG_1X1}"


def test_a_link_or_other_text_is_not_an_image():
    assert image_data_uri("https://www.jekimo.com/app.php/v1.1/en/user/login/abc") is None
    assert image_data_uri(base64.b64encode(b"plain text").decode()) is None
    assert image_data_uri("") is None
    assert image_data_uri(None) is None
