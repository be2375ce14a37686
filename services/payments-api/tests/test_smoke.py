from payments_api.testing import ApiClient, new_user


async def test_create_payment_returns_checkout(api: ApiClient) -> None:
    response = await api.create_payment(new_user())
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["status"] == "PENDING"
    assert data["checkout_url"].endswith(data["payment_session_id"])
