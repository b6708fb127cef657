"""The health panel names an unhealthy service and why: alive is not enough (a coach whose store refuses writes)."""
import pytest

from common.messages import HealthReport

pytestmark = pytest.mark.browser


def test_an_alive_but_unhealthy_service_shows_red_with_its_reason(launch_browser, bus_rig, artifacts):
    page = launch_browser(camera=None).new_page()
    page.goto(bus_rig.url + "/instructor")
    reason = "history store /data/w.sqlite3 is read-only: make it writable; 12 writes waiting in memory"
    services = [{"service": name, "instance": name, "pid": i, "alive": True, "health": "ok", "reason": "",
                 "age_s": 0.3, "restarts": 0, "stats": {}}
                for i, name in enumerate(["capture", "broker", "pose", "classifier", "speech", "ui", "relay"])]
    services.append({"service": "coach", "instance": "coach", "pid": 9, "alive": True, "health": "unhealthy",
                     "reason": reason, "age_s": 0.3, "restarts": 0, "stats": {}})
    bus_rig.publish("health_out", HealthReport(services=services))
    page.wait_for_function("document.querySelector('#health li.bad[data-service=coach]') !== null")
    coach = page.locator("#health li[data-service=coach]")
    assert "unhealthy: history store /data/w.sqlite3 is read-only" in coach.inner_text()
    assert page.locator("#health li.ok").count() == 7
    page.screenshot(path=str(artifacts / "ui-health-unhealthy.png"))
