from tests.conftest import Api, Tenant, new_model


def test_a_developer_registers_a_model_and_reads_it_back(api: Api, tenant: Tenant) -> None:
    model = new_model(api, tenant, tags=["credit"])
    answer = api.get(f"/v1/models/{model['id']}", tenant.keys["auditor"])
    assert answer.status == 200
    assert answer.json["name"] == "Credit PD"
    assert answer.headers["etag"] == '"1"'
