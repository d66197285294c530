import base64

from entrypoints.http.auth import Authenticator


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_nothing_configured_lets_everyone_in():
    assert Authenticator().allows(None)


def test_basic_credentials_must_match_exactly():
    auth = Authenticator(basic_user="alert", basic_pass="s3cret")
    assert auth.allows(basic("alert", "s3cret"))
    assert auth.allows("basic " + basic("alert", "s3cret").split()[1])
    for wrong in (
        None,
        "",
        basic("alert", "wrong"),
        basic("other", "s3cret"),
        "Basic !!!",
        "Bearer s3cret",
        basic("alert", "s3cret") + "x",
        "Basic ünï",
    ):
        assert not auth.allows(wrong), wrong


def test_a_bearer_token_must_match_exactly():
    auth = Authenticator(bearer="tok")
    assert auth.allows("Bearer tok")
    assert not auth.allows("Bearer tok2") and not auth.allows("Bearer ") and not auth.allows(basic("a", "tok"))


def test_with_both_configured_either_is_enough_and_both_are_challenged():
    auth = Authenticator(basic_user="alert", basic_pass="s3cret", bearer="tok")
    assert auth.allows("Bearer tok") and auth.allows(basic("alert", "s3cret"))
    assert auth.challenge.startswith("Basic ") and "Bearer" in auth.challenge
