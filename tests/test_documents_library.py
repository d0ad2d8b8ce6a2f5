"""The practice's library of shared documents, and the staff notification list with its bell."""

from __future__ import annotations

from sqlalchemy import select

from blueprints.documents.models import Document, LibraryItem
from blueprints.staff_notifications.models import StaffNotification
from tenants.database import db
from tests.documents_support import (  # noqa: F401 (the fixture documents_practice)
    audit_actions,
    client_visitor,
    documents_practice_fixture,
    pdf_bytes,
    staff_post,
    staff_visitor,
    upload,
)


def library_item_id(in_practice, practice) -> int:
    with in_practice(practice):
        return db.session.scalar(select(LibraryItem.id).order_by(LibraryItem.id.desc()))


def shared_client_ids(in_practice, practice, item_id: int) -> list[int]:
    with in_practice(practice):
        return sorted(
            db.session.scalars(select(Document.client_id).where(Document.library_item_id == item_id))
        )


def test_library_share_with_one_several_and_all(documents_practice, make_client, visit, in_practice):
    setting = documents_practice()
    practice = setting.practice
    others = [make_client(practice, first=name) for name in ("Ana", "Ben", "Cy")]
    test_client = make_client(practice, first="Test", last="Client", is_test=True)
    owner = staff_visitor(visit, practice, practice.owner_email)
    assert (
        upload(owner, pdf_bytes("policy"), "privacy policy.pdf", path="/documents/library").status_code == 302
    )
    item = library_item_id(in_practice, practice)
    page = owner.get("/documents/library").get_data(as_text=True)
    assert "privacy policy.pdf" in page and "Shared with 0 clients" in page

    # Several: two of the owner's clients.
    several = staff_post(
        owner,
        f"/documents/library/{item}/share",
        {"client_ids": [others[0].id, others[1].id]},
        page="/documents/library",
    )
    assert several.status_code == 302
    assert shared_client_ids(in_practice, practice, item) == [others[0].id, others[1].id]
    # All: every active client (not test clients), once each.
    everyone = staff_post(
        owner, f"/documents/library/{item}/share", {"everyone": "y"}, page="/documents/library"
    )
    assert everyone.status_code == 302
    expected = sorted([setting.client.id] + [c.id for c in others])
    assert shared_client_ids(in_practice, practice, item) == expected
    assert test_client.id not in shared_client_ids(in_practice, practice, item)
    nobody = staff_post(owner, f"/documents/library/{item}/share", {}, page="/documents/library")
    assert nobody.status_code == 400

    # The client sees it, a to-do on the home until it is opened, the bytes of the library item.
    client = client_visitor(visit, setting)
    assert "Read the document the practice shared: privacy policy.pdf" in client.get("/portal").get_data(
        as_text=True
    )
    with in_practice(practice):
        document_id = db.session.scalar(
            select(Document.id).where(
                Document.library_item_id == item, Document.client_id == setting.client.id
            )
        )
    downloaded = client.get(f"/portal/documents/{document_id}/download")
    assert downloaded.status_code == 200 and downloaded.data.startswith(b"%PDF")
    assert "Read the document" not in client.get("/portal").get_data(as_text=True)
    assert "opened by the client" in owner.get(f"/clients/{setting.client.id}/documents").get_data(
        as_text=True
    )

    # Taken out of the library: clients keep it, the library no longer lists it.
    assert (
        staff_post(owner, f"/documents/library/{item}/remove", page="/documents/library").status_code == 302
    )
    assert "privacy policy.pdf" not in owner.get("/documents/library").get_data(as_text=True)
    assert client.get(f"/portal/documents/{document_id}/download").status_code == 200
    assert staff_post(owner, f"/documents/library/{item}/share", {"everyone": "y"}).status_code == 404
    actions = [action for action, _, _ in audit_actions(in_practice, practice)]
    assert {"added to the library", "shared a document", "removed from the library"} <= set(actions)


def test_a_clinician_shares_only_with_their_own_clients(
    documents_practice, make_client, make_staff, visit, in_practice
):
    setting = documents_practice()
    practice = setting.practice
    not_theirs = make_client(practice, first="Zed")
    clinician = staff_visitor(visit, practice, setting.clinician)
    assert upload(clinician, pdf_bytes(), "worksheet.pdf", path="/documents/library").status_code == 302
    item = library_item_id(in_practice, practice)
    picker = clinician.get("/documents/library").get_data(as_text=True)
    assert "Zed" not in picker and setting.client.name.split()[0] in picker
    # Naming a client they may not see shares nothing; "all" means all of their own clients.
    refused = staff_post(clinician, f"/documents/library/{item}/share", {"client_ids": [not_theirs.id]})
    assert refused.status_code == 400
    assert staff_post(clinician, f"/documents/library/{item}/share", {"everyone": "y"}).status_code == 302
    assert shared_client_ids(in_practice, practice, item) == [setting.client.id]
    # From the client's tab, one item for this client; another practice's item id is not found.
    intern = staff_visitor(visit, practice, make_staff(practice, "intern"))
    assert intern.get(f"/clients/{setting.client.id}/documents").status_code == 404
    tab = f"/clients/{setting.client.id}/documents"
    again = staff_post(clinician, f"{tab}/library", {"item_id": item}, page=tab)
    assert again.status_code == 302
    assert staff_post(clinician, f"{tab}/library", {"item_id": item + 10_000}, page=tab).status_code == 404


def test_notifications_list_bell_and_opening(documents_practice, make_staff, visit, in_practice):
    setting = documents_practice()
    practice = setting.practice
    scheduler = make_staff(practice, "scheduler")
    unassigned = make_staff(practice, "clinician")
    client = client_visitor(visit, setting)
    assert upload(client, pdf_bytes(), "one.pdf").status_code == 302
    assert upload(client, pdf_bytes(), "two.pdf").status_code == 302
    with in_practice(practice):
        recipients = sorted({n.user_id for n in db.session.scalars(select(StaffNotification))})
        told = {
            n.user_id: n.id
            for n in db.session.scalars(select(StaffNotification).order_by(StaffNotification.id))
        }
    assert len(recipients) == 3  # the owner, the scheduler, the assigned clinician; not the other clinician

    nobody = staff_visitor(visit, practice, unassigned)
    assert "bell-count" not in nobody.get("/").get_data(as_text=True)
    assert "No notifications." in nobody.get("/notifications").get_data(as_text=True)

    staff = staff_visitor(visit, practice, scheduler)
    assert 'id="bell-count" aria-hidden="true">2</span>' in staff.get("/").get_data(as_text=True)
    page = staff.get("/notifications").get_data(as_text=True)
    assert page.count("New upload: ") == 2 and "one.pdf" not in page
    with in_practice(practice):
        mine = db.session.scalars(
            select(StaffNotification.id).where(
                StaffNotification.user_id == _user_id(scheduler_email=scheduler)
            )
        ).all()
    opened = staff_post(staff, f"/notifications/{mine[0]}/open", page="/notifications")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(
        f"/clients/{setting.client.id}/documents"
    )
    assert 'id="bell-count" aria-hidden="true">1</span>' in staff.get("/").get_data(as_text=True)
    # Someone else's notification is not found; "mark all" clears the bell.
    others = [nid for uid, nid in told.items() if nid not in mine]
    assert staff_post(staff, f"/notifications/{others[0]}/open", page="/notifications").status_code == 404
    assert staff_post(staff, "/notifications/read", page="/notifications").status_code == 302
    assert "bell-count" not in staff.get("/").get_data(as_text=True)


def _user_id(scheduler_email: str) -> int:
    from blueprints.auth.service import find_user_by_email

    return find_user_by_email(scheduler_email).id


def test_the_demo_practice_shares_its_policies(app, visit):
    from blueprints.demo.seed import create_demo

    for _ in range(2):  # refreshing it adds nothing twice
        with app.app_context():
            create_demo()
    client = visit("demo.localhost")
    client.login("client@harbor.example.com", "demo-client-pass")
    client.get("/portal/choose")
    page = client.get("/portal/documents").get_data(as_text=True)
    assert page.count("Practice policies.pdf") == 1
    owner = visit("demo.localhost")
    owner.login("owner@harbor.example.com", "demo-owner-pass")
    assert "Practice policies.pdf" in owner.get("/documents/library").get_data(as_text=True)


def test_the_practice_export_holds_uploads_and_the_library_once(documents_practice, visit, in_practice):
    import io
    import tarfile

    from blueprints.documents.export import add_practice_files

    setting = documents_practice()
    client = client_visitor(visit, setting)
    assert upload(client, pdf_bytes("mine"), "mine.pdf").status_code == 302
    owner = staff_visitor(visit, setting.practice, setting.practice.owner_email)
    assert upload(owner, pdf_bytes("policy"), "policy.pdf", path="/documents/library").status_code == 302
    item = library_item_id(in_practice, setting.practice)
    assert staff_post(owner, f"/documents/library/{item}/share", {"everyone": "y"}).status_code == 302
    buffer = io.BytesIO()
    with in_practice(setting.practice), tarfile.open(fileobj=buffer, mode="w") as archive:
        added, problems = add_practice_files(archive)
    assert (added, problems) == (2, [])
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as archive:
        names = archive.getnames()
        assert any(name.startswith(f"files/clients/{setting.client.id}/uploads/") for name in names)
        [policy] = [name for name in names if name.startswith("files/library/")]
        assert archive.extractfile(policy).read().startswith(b"%PDF")
