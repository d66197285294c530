from tests.support.payloads import seed

WEBHOOK = "/v1/integrations/alertmanager/webhook"


async def test_the_seed_alert_creates_one_open_issue(client, pg):
    response = await client.post(WEBHOOK, json=seed())
    assert response.status == 200
    assert (await response.json())["created"] == 1
    assert pg.scalar("SELECT count(*) FROM alert_issues") == 1
