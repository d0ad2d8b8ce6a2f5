def test_healthz_answers_on_any_host(visit):
    for host in ("localhost", "nobody.localhost", "example.org"):
        response = visit(host).get("/healthz")
        assert response.status_code == 200
        assert response.json == {"status": "ok", "database": "ok"}


def test_owner_logs_in_on_practice_home(make_practice, visit):
    practice = make_practice(name="Smoke Test Practice")
    owner = visit(practice)
    response = owner.login(practice.owner_email)
    assert response.status_code == 302
    page = owner.get("/").get_data(as_text=True)
    assert "Smoke Test Practice" in page
    assert practice.host in page
