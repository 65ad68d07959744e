"""Assertions about who may open a page."""


def assert_sends_to_sign_in(client, *paths: str) -> None:
    """Each of ``paths``, fetched by ``client``, redirects to the sign-in page."""
    for path in paths:
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/auth/login" in response.headers["Location"], path
