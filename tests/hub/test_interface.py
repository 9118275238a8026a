"""The interface chosen on the form: JupyterLab or Notebook 7 (issue 15.7)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from traitlets import TraitError

from jobwrapper.hub.form import (
    FormError,
    ResourceForm,
    interface_url,
    render_form,
    validate_options,
)


def test_the_sites_default_is_the_first_interface() -> None:
    assert validate_options({}, ResourceForm()).interface == "lab"
    form = ResourceForm(interfaces={"notebook": "Notebook", "lab": "Lab"})
    assert validate_options({}, form).interface == "notebook"


@pytest.mark.parametrize("value", ["retro", "/tree", "lab\nexecutable = x", ["lab", "notebook"]])
def test_only_an_offered_interface(value: object) -> None:
    with pytest.raises(FormError, match="Interface"):
        validate_options({"interface": value}, ResourceForm())


def test_an_interface_the_site_does_not_offer_is_refused() -> None:
    form = ResourceForm(interfaces={"lab": "JupyterLab"})
    with pytest.raises(FormError):
        validate_options({"interface": "notebook"}, form)


def test_unknown_interfaces_cannot_be_configured() -> None:
    with pytest.raises(TraitError):
        ResourceForm(interfaces={"voila": "Voila"})
    with pytest.raises(TraitError):
        ResourceForm(interfaces={})


def test_default_url_per_choice_keeps_a_sites_own_url_of_the_same_interface() -> None:
    assert interface_url("notebook") == "/tree"
    assert interface_url("lab") == "/lab"
    assert interface_url("lab", "/lab/tree/README.md") == "/lab/tree/README.md"
    assert interface_url("notebook", "/lab") == "/tree"
    assert interface_url("lab", "/tree") == "/lab"


def test_apply_user_options_sets_the_default_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobwrapper.hub import form

    monkeypatch.setattr(form, "form_config", lambda spawner: ResourceForm())
    monkeypatch.setattr(form, "_maintenance", lambda spawner: ((), False))
    spawner = SimpleNamespace(default_url="/lab", user_options={})
    form.apply_user_options(spawner, {"interface": "notebook"})
    assert spawner.default_url == "/tree"
    form.apply_user_options(spawner, {})
    assert spawner.default_url == "/lab"


def test_the_choice_is_shown_only_when_there_is_one_and_escaped() -> None:
    html = render_form(ResourceForm(interfaces={"lab": "Lab <b>new</b>",
                                                "notebook": "Notebook"}))
    assert 'name="interface"' in html and "Lab &lt;b&gt;new&lt;/b&gt;" in html
    assert 'name="interface"' not in render_form(ResourceForm(interfaces={"lab": "Lab"}))


def test_idle_minutes_per_group_reach_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """c.ResourceForm.idle_minutes (per group/user in group_limits) becomes the job's
    JOBWRAPPER_IDLE_MINUTES, which the hub also uses for its words."""
    from jobwrapper.hub import form
    from jobwrapper.hub.site import profiles

    policy = profiles.parse_policy([], {"students": {"idle_minutes": 60}}, {},
                                   lambda t, k, m: ValueError(m))
    resolved, _ = form.resolved_form(ResourceForm(), policy, ["students"], "bob")
    monkeypatch.setattr(form, "form_config", lambda spawner: resolved)
    monkeypatch.setattr(form, "_maintenance", lambda spawner: ((), False))
    spawner = SimpleNamespace(default_url="", user_options={}, environment={"A": "b"})
    form.apply_user_options(spawner, {})
    assert spawner.environment == {"A": "b", "JOBWRAPPER_IDLE_MINUTES": "60"}
    monkeypatch.setattr(form, "form_config", lambda spawner: ResourceForm())
    other = SimpleNamespace(default_url="", user_options={}, environment={})
    form.apply_user_options(other, {})
    assert other.environment == {}
