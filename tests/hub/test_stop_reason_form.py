"""The options form shows why the last server stopped, escaped, above the fields."""

from __future__ import annotations

from jobwrapper.hub.form import ResourceForm, options_form, render_form

from .test_spawner_unit import make_spawner


def test_the_form_shows_the_kept_reason_above_the_fields():
    spawner = make_spawner(resource_form=True)
    spawner.record_stop_reason("Your notebook job 7 stopped while running: it was removed.")
    html = options_form(spawner)
    notice = html.index('class="alert alert-warning jobwrapper-stop-reason"')
    assert "Your notebook job 7 stopped while running: it was removed." in html[notice:]
    assert notice < html.index('name="cpus"')


def test_a_reason_is_html_escaped_in_the_form():
    html = render_form(ResourceForm(), notice='<script>alert("x")</script> & more')
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in html


def test_no_reason_no_notice():
    assert "jobwrapper-stop-reason" not in options_form(make_spawner(resource_form=True))
