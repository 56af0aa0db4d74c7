"""Small helpers shared by tests that go through the real sign-in."""

from __future__ import annotations


def bearer_for(client, email: str, password: str) -> dict:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['access_token']}"}
