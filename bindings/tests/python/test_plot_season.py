"""A Béguédo plot season through the generated Python bindings, against a real server.

The admin publishes the mission's plot registration and seasonal monitoring forms; the
enumerator's phone downloads them, registers plots offline (finalizing a registration
creates the plot in the `plots` entity list), lists and searches the plots, starts a
seasonal visit on one (the monitoring form offers the sector's plots and reads last
season's values from the list), and the visit updates the plot. A property is settled, a
plot deleted and restored. Then the season syncs: a teammate's phone receives the plots,
both phones record a yield for the same plot without having seen each other's, the
conflict reaches both, and the supervisor settles it through the API for both phones.
"""

import os
import sys
import tempfile
import unittest

import terrain_ffi as t
from platform_http import PlatformHttp
from server_api import Api

A = t.AnswerValue
URL = os.environ["TERRAIN_URL"]
PIN = os.environ.get("TERRAIN_CERT_SHA256")
PASSWORD = "enumerator-password-1"
REGISTRATION = ("beguedo_plot_registration", "2026120701")
MONITORING = ("beguedo_plot_monitoring", "2026120701")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def publish_plot_forms(admin, forms_dir):
    """A project with a team of two enumerators and a supervisor, and the two plot forms;
    returns the first enumerator."""
    project = admin.call("POST", "/api/v1/projects", {"name": "plots-py"})["id"]
    team = admin.call("POST", f"/api/v1/projects/{project}/teams", {"name": "beguedo-py"})["id"]
    for username, role in [("enu-plots", "enumerator"), ("enu-plots-2", "enumerator"), ("sup-plots", "supervisor")]:
        user = admin.call("POST", "/api/v1/users", {"username": username, "password": PASSWORD, "role": role})
        admin.call("POST", f"/api/v1/teams/{team}/members", {"user_id": user["id"]})
    # The registration first: it declares the plots list that monitoring reads as plots.csv.
    for form in ("beguedo_plot_registration.xlsx", "beguedo_plot_monitoring.xlsx"):
        with open(os.path.join(forms_dir, form), "rb") as f:
            admin.call("POST", f"/api/v1/projects/{project}/forms", raw=f.read(), content_type=XLSX)
    return "enu-plots"


def register(phone, code, owner, secteur):
    survey = phone.create_survey(*REGISTRATION)
    answers = [
        ("secteur", A.CHOICE(secteur)),
        ("plot_code", A.TEXT(code)),
        ("owner_name", A.TEXT(owner)),
        ("household_size", A.INTEGER(7)),
        ("tenure", A.CHOICE("owned")),
        ("area_ha", A.DECIMAL(0.8)),
        ("location", A.GEO_POINT(t.GeoPoint(lat=11.78, lon=-0.73, altitude=0.0, accuracy=5.0))),
        ("techniques", A.CHOICES(["zai"])),
        ("on_river", A.CHOICE("no")),
    ]
    for path, value in answers:
        phone.set_answer(survey, path, value)
    phone.finalize(survey)
    return survey


class PlotSeason(unittest.TestCase):
    def test_plot_season(self):
        admin = Api(URL, "admin", os.environ["TERRAIN_ADMIN_PASSWORD"])
        enumerator = publish_plot_forms(admin, os.environ["TERRAIN_FORMS"])
        phone = t.TerrainStore.open(
            os.path.join(tempfile.mkdtemp(), "phone.db"), enumerator, "phone-plots", t.Role.ENUMERATOR,
            PlatformHttp(), None,
        )
        phone.login(URL, PASSWORD, PIN)
        self.assertEqual(sorted(f.form_id for f in phone.download_forms()), sorted([REGISTRATION[0], MONITORING[0]]))

        # Offline: three plots registered in two sectors.
        register(phone, "BGD-0412", "Salif Ouédraogo", "secteur_3")
        register(phone, "BGD-0413", "Awa Bambara", "secteur_3")
        register(phone, "BGD-0501", "Issa Zongo", "secteur_5")
        plots = phone.entities("plots")
        self.assertEqual([p.label for p in plots],
                         ["BGD-0412 — Salif Ouédraogo", "BGD-0413 — Awa Bambara", "BGD-0501 — Issa Zongo"])
        self.assertEqual([p.label for p in phone.entities("plots", search="zongo")], ["BGD-0501 — Issa Zongo"])
        plot = plots[0]
        self.assertEqual(plot.properties["techniques"], "zai")
        self.assertEqual(phone.entity("plots", plot.id), plot)
        self.assertIsNone(phone.entity("plots", "nowhere"))

        # The harvest visit, started on the plot: the sector's plots are offered.
        visit = phone.start_follow_up(*MONITORING, plot.id)
        for path, value in [("season", A.CHOICE("rainy_2026")), ("secteur", A.CHOICE("secteur_3")),
                            ("crop", A.CHOICE("sorghum")), ("yield_kg", A.DECIMAL(420.0)),
                            ("techniques", A.CHOICES(["half_moons"]))]:
            evaluation = phone.set_answer(visit, path, value)
        offered = next(c.codes for c in evaluation.choices if c.path == "plot")
        self.assertEqual(sorted(offered), sorted(p.id for p in plots[:2]))
        phone.finalize(visit)
        updated = phone.entity("plots", plot.id)
        self.assertEqual((updated.properties["yield_kg"], updated.properties["crop"]), ("420", "sorghum"))
        self.assertEqual(sorted(s.action for s in phone.entity_sources("plots", plot.id)), ["create", "update"])

        # The next season's visit reads what this one saved.
        nxt = phone.start_follow_up(*MONITORING, plot.id)
        evaluation = phone.set_answer(nxt, "secteur", A.CHOICE("secteur_3"))
        self.assertEqual(next(c.value for c in evaluation.calculated if c.path == "last_yield"), "420")

        # A supervisor's decision on a property, a deletion and a restore.
        self.assertEqual(phone.settle_entity("plots", plot.id, "yield_kg", "400").properties["yield_kg"], "400")
        self.assertEqual(phone.entity_conflicts("plots", plot.id), [])
        self.assertTrue(phone.set_entity_deleted("plots", plots[1].id, True).deleted)
        self.assertEqual(len(phone.entities("plots")), 2)
        self.assertEqual(len(phone.entities("plots", include_deleted=True)), 3)
        phone.set_entity_deleted("plots", plots[1].id, False)

        # Errors are typed.
        with self.assertRaises(t.TerrainError.NotFound):
            phone.settle_entity("plots", "nowhere", "yield_kg", "1")
        with self.assertRaises(t.TerrainError.Invalid):
            phone.start_follow_up(*REGISTRATION, plot.id)

        # The season syncs: the plots go up with the surveys.
        progress = phone.sync().progress
        self.assertEqual(progress.entities_pushed, 3)

        # A teammate's phone receives them.
        other = t.TerrainStore.open(
            os.path.join(tempfile.mkdtemp(), "other.db"), "enu-plots-2", "phone-plots-2", t.Role.ENUMERATOR,
            PlatformHttp(), None,
        )
        other.login(URL, PASSWORD, PIN)
        other.download_forms()
        self.assertEqual(other.sync().progress.entities_pulled, 3)
        self.assertEqual([p.label for p in other.entities("plots")], [p.label for p in phone.entities("plots")])

        # Both record this season's yield without having seen the other's: a conflict,
        # which reaches both phones with both values.
        for device, kg in [(phone, 510.0), (other, 480.0)]:
            again = device.start_follow_up(*MONITORING, plot.id)
            for path, value in [("season", A.CHOICE("rainy_2027")), ("secteur", A.CHOICE("secteur_3")),
                                ("crop", A.CHOICE("millet")), ("yield_kg", A.DECIMAL(kg)),
                                ("techniques", A.CHOICES(["half_moons"]))]:
                device.set_answer(again, path, value)
            device.finalize(again)
        phone.sync()
        other.sync()
        phone.sync()
        for device in (phone, other):
            conflicts = device.entity_conflicts("plots", plot.id)
            yields = sorted(v.value for c in conflicts if c.property == "yield_kg" for v in c.values)
            self.assertEqual(yields, ["480", "510"])

        # The supervisor settles it from the desk; both phones get the settled value.
        sup = Api(URL, "sup-plots", PASSWORD, "sup-laptop")
        found = sup.call("GET", "/api/v1/entity-lists/plots/entities?conflicted=true")
        self.assertEqual([e["id"] for e in found], [plot.id])
        sup.call("POST", f"/api/v1/entity-lists/plots/entities/{plot.id}/settle",
                 {"property": "yield_kg", "value": "495"})
        for device in (phone, other):
            device.sync()
            settled = device.entity("plots", plot.id)
            self.assertEqual((settled.properties["yield_kg"], settled.has_conflicts), ("495", False))


if __name__ == "__main__":
    sys.exit(unittest.main())
