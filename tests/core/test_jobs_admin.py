"""The admin console's jobs: a fanned-out job shows its chunks in order, read-only for
everyone; the list tells jobs from chunks without a query per row."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from modelgate.core import jobs
from modelgate.core.models import Job, JobStatus
from tests.portal.conftest import admin_console_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def fanned_out(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        parent = Job.objects.create(kind="core.ping", status=JobStatus.RUNNING, params={"chunks": 3})
        jobs.fan_out(parent.pk, jobs.FanOut("core.ping_chunk", [{"number": n} for n in range(3)]))
    first = parent.chunks.get(chunk_index=0)
    assert jobs.claim(first.pk, worker="host-a:101")
    with django_capture_on_commit_callbacks(execute=False):
        jobs.finish(first.pk, result={"number": 0, "worker": "host-a:101"})
    return parent


@pytest.mark.parametrize("persona", ["admin_user", "auditor"])
def test_it_shows_a_fanned_out_jobs_chunks_in_order_and_lets_nobody_edit_them(persona, fanned_out, request):
    html = admin_console_client_for(request.getfixturevalue(persona)).get(f"/admin/core/job/{fanned_out.pk}/change/").content.decode()
    inline = re.search(r'<div class="js-inline-admin-formset inline-group" id="chunks-group".*?</fieldset>', html, re.S)
    assert inline, "the chunks inline"
    rows = re.findall(r'<tr class="form-row[^"]*".*?</tr>', inline.group(0), re.S)
    assert len(rows) == 3
    assert "host-a:101" in rows[0] and "Succeeded" in rows[0]
    assert all("Queued" in row for row in rows[1:])
    controls = re.findall(r"<(?:input|select|textarea)\b[^>]*>", inline.group(0))
    assert controls and all('type="hidden"' in c for c in controls)  # the formset's bookkeeping only: nothing to type into
    assert "Add another chunk" not in html


def test_it_tells_jobs_from_chunks_in_the_list_without_a_query_per_row(admin_user, fanned_out):
    client = admin_console_client_for(admin_user)
    html = client.get("/admin/core/job/?level=jobs").content.decode()
    assert "1 of 3 done" in html and "chunk 0" not in html
    html = client.get("/admin/core/job/?level=chunks").content.decode()
    assert "chunk 0" in html and "chunk 2" in html and "1 of 3 done" not in html
    with CaptureQueriesContext(connection) as few:
        client.get("/admin/core/job/")
    for n in range(3, 13):
        jobs.fan_out(Job.objects.create(kind="core.ping", status=JobStatus.RUNNING).pk,
                     jobs.FanOut("core.ping_chunk", [{"number": n}]))
    with CaptureQueriesContext(connection) as many:
        client.get("/admin/core/job/")
    assert len(many.captured_queries) == len(few.captured_queries)


def test_it_lists_no_chunks_on_a_job_that_did_not_fan_out(admin_user, fanned_out):
    client = admin_console_client_for(admin_user)
    plain = Job.objects.create(kind="core.ping")
    chunk = fanned_out.chunks.get(chunk_index=0)
    for job in (plain, chunk):
        html = client.get(f"/admin/core/job/{job.pk}/change/").content.decode()
        assert f"{job.pk}" in html and 'id="chunks-group"' not in html
