def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b'name="username"' in response.data


def test_home_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_admin_pages_render(client, make_user, make_enterprise):
    admin = make_user("admin")
    enterprise = make_enterprise()
    client.login(admin)
    for url in [
        "/",
        "/profile",
        "/admin/users/",
        "/admin/users/new",
        f"/admin/users/{admin.id}",
        "/admin/reference/",
        "/admin/reference/offices/",
        "/admin/pipeline/stages/",
        "/admin/pipeline/stages/candidate",
        "/admin/pipeline/reasons/",
        "/pipeline/",
        f"/pipeline/enterprises/{enterprise.id}",
        "/admin/reference/units/new",
        "/enterprises/",
        f"/enterprises/{enterprise.id}",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
