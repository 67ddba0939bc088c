"""An enumerator's day through the generated Python bindings, against a real server.

bindings/test.sh starts the server on loopback over TLS with a self-signed certificate, and
passes TERRAIN_URL, TERRAIN_CERT_SHA256 (the pin), TERRAIN_ADMIN_PASSWORD and TERRAIN_FORMS. The admin sets up a project with the two mission forms; the enumerator's
phone (the FFI) logs in, downloads the forms, fills in two Guinea surveys and one Béguédo
survey, finalizes and syncs; the supervisor sends one back with a comment; the phone sees
the comment, fixes the answer and syncs; the server then has the fix.
"""

import gc
import os
import struct
import sys
import tempfile
import unittest
import zlib

import terrain_ffi as t
from platform_http import PlatformHttp
from server_api import Api

A = t.AnswerValue
URL = os.environ["TERRAIN_URL"]
PIN = os.environ.get("TERRAIN_CERT_SHA256")
PASSWORD = "enumerator-password-1"
GUINEA = ("guinea_needs", "2026120801")
BEGUEDO = ("beguedo_slm", "2026110101")


def png(width, height):
    """A PNG photo of `width` × `height`, made with the standard library alone."""
    rows = b"".join(b"\x00" + bytes((x * 7 + y) % 256 for x in range(width)) * 3 for y in range(height))

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class Progress(t.SyncListener):
    """Collects the progress reports of a sync."""

    def __init__(self):
        self.reports = []

    def on_progress(self, progress):
        self.reports.append(progress)


def find(nodes, name):
    for node in nodes:
        if node.name == name:
            return node
        found = find(node.children, name)
        if found:
            return found
    return None


class Survey:
    """One survey being filled in, keeping the latest evaluation."""

    def __init__(self, store, form):
        self.store = store
        self.tree = store.form_tree(*form, "fr")
        self.id = store.create_survey(*form)
        self.evaluation = store.evaluate(self.id)

    def set(self, path, value):
        self.evaluation = self.store.set_answer(self.id, path, value, "fr")
        return self.evaluation

    def codes(self, name):
        return [c.code for c in find(self.tree.children, name).choices]

    def offered(self, path):
        return next(c.codes for c in self.evaluation.choices if c.path == path)

    def calculated(self, path):
        return next(c.value for c in self.evaluation.calculated if c.path == path)

    def missing(self):
        return [i.path for i in self.evaluation.missing_required]


class EnumeratorDay(unittest.TestCase):
    def test_enumerator_day(self):
        admin = Api(URL, "admin", os.environ["TERRAIN_ADMIN_PASSWORD"])
        users = admin.setup_project("py", os.environ["TERRAIN_FORMS"], PASSWORD)
        enumerator, supervisor = users["enumerator"], users["supervisor"]
        data = tempfile.mkdtemp()
        # The phone's store is encrypted under a key the app keeps in the platform's
        # keystore (docs/mobile.md).
        phone_path = os.path.join(data, "phone.db")
        store_key = t.generate_store_key()
        phone = t.TerrainStore.open(phone_path, enumerator, "phone-py", t.Role.ENUMERATOR, PlatformHttp(), store_key)

        # Errors are typed exceptions.
        with self.assertRaises(t.TerrainError.Auth):
            phone.sync()
        with self.assertRaises(t.TerrainError.Auth):
            phone.login(URL, "wrong password", PIN)
        if PIN:
            # Another certificate than the pinned one: the app's client refuses it before
            # the password leaves the phone.
            with self.assertRaises(t.TerrainError.Network):
                phone.login(URL, PASSWORD, "0" * 64)
        # Plain HTTP beyond this machine never leaves the phone either.
        with self.assertRaises(t.TerrainError.Invalid):
            phone.login("http://192.0.2.1:8080", PASSWORD)
        login = phone.login(URL, PASSWORD, PIN)
        self.assertEqual(login.role, "enumerator")
        self.assertEqual(phone.device_key(), login.device_key)

        downloaded = phone.download_forms()
        self.assertEqual(sorted(f.form_id for f in downloaded), ["beguedo_slm", "guinea_needs"])
        self.assertEqual(phone.download_forms(), [], "forms already held are not downloaded again")
        self.assertEqual(len(phone.forms()), 2)
        tree = phone.form_tree(*GUINEA, "fr")
        self.assertEqual(tree.language, "Français (fr)")
        consent = find(tree.children, "consent")
        self.assertEqual(consent.question_type, "select_one")
        self.assertEqual([c.label for c in consent.choices], ["Oui", "Non"])
        self.assertEqual(find(tree.children, "member").kind, t.NodeKind.REPEAT)
        self.assertEqual(find(tree.children, "household").kind, t.NodeKind.GROUP)

        # Guinea 1: a full household with a two-member roster.
        g1 = Survey(phone, GUINEA)
        with self.assertRaises(t.TerrainError.NotFound):
            phone.set_answer("no-such-survey", "consent", A.CHOICE("yes"))
        with self.assertRaises(t.TerrainError.Invalid):
            g1.set("hh_number", A.TEXT("twelve"))
        with self.assertRaises(t.TerrainError.Invalid):
            g1.set("member[x]/member_age", A.INTEGER(3))
        g1.set("enumerator_name", A.TEXT("Mariama Diallo"))
        g1.set("consent", A.CHOICE("yes"))
        g1.set("region", A.CHOICE(g1.codes("region")[0]))
        for name in ("prefecture", "sous_prefecture", "village"):
            offered = g1.offered(name)
            self.assertLess(len(offered), len(g1.codes(name)), f"{name} choices are filtered")
            g1.set(name, A.CHOICE(offered[0]))
        # A constraint violation, with the form's message, then its fix.
        e = g1.set("hh_number", A.INTEGER(0))
        self.assertEqual([v.path for v in e.violations], ["hh_number"])
        self.assertTrue(e.violations[0].message)
        e = g1.set("hh_number", A.INTEGER(12))
        self.assertEqual(e.violations, [])
        g1.set("respondent_name", A.TEXT("Fatoumata Camara"))
        g1.set("respondent_role", A.CHOICE(g1.codes("respondent_role")[0]))
        members = [("Alpha Diallo", 45, "male", "head"), ("Aïssata Diallo", 3, "female", "child")]
        for i, (name, age, sex, relation) in enumerate(members):
            added = phone.add_repeat_instance(g1.id, "member", "fr")
            self.assertEqual(added.index, i)
            g1.set(f"member[{i}]/member_name", A.TEXT(name))
            g1.set(f"member[{i}]/member_age", A.INTEGER(age))
            g1.set(f"member[{i}]/member_sex", A.CHOICE(sex))
            g1.set(f"member[{i}]/member_relation", A.CHOICE(relation))
            g1.set(f"member[{i}]/member_health", A.CHOICE(g1.codes("member_health")[0]))
        g1.set("member[0]/member_schooling", A.CHOICE(g1.codes("member_schooling")[0]))
        # A three-year-old skips the education questions.
        self.assertIn("member[1]/member_education", g1.evaluation.non_relevant)
        self.assertEqual(g1.calculated("hh_size"), "2")
        self.assertEqual(g1.calculated("head_name"), "Alpha Diallo")
        # A removed instance is gone from the evaluation.
        extra = phone.add_repeat_instance(g1.id, "member")
        self.assertEqual(extra.index, 2)
        self.assertIn("member[2]/member_name", [i.path for i in extra.evaluation.missing_required])
        e = phone.remove_repeat_instance(g1.id, "member", 2)
        self.assertNotIn("member[2]/member_name", [i.path for i in e.missing_required])
        g1.set("facility_type", A.CHOICE("health_centre"))
        g1.set("facility_travel_min", A.INTEGER(40))
        g1.set("health_barriers", A.CHOICES(["cost", "distance"]))
        g1.set("sick_last_month", A.CHOICE("no"))
        self.assertIn("sought_care", g1.evaluation.non_relevant)
        g1.set("income_sources", A.CHOICES(["crops"]))
        g1.set("farm_area_ha", A.DECIMAL(1.5))
        g1.set("diaspora_invest_interest", A.CHOICE("not"))
        g1.set("priority_rank", A.CHOICES(g1.codes("priority_rank")))
        g1.set("water_source", A.CHOICE("borehole"))
        g1.set("electricity", A.CHOICE("solar"))
        g1.set("relatives_abroad", A.CHOICE("no"))
        g1.set("hh_gps", A.GEO_POINT(t.GeoPoint(lat=9.5092, lon=-13.7122, altitude=12.0, accuracy=5.0)))
        self.assertEqual(g1.missing(), [])
        self.assertTrue(g1.evaluation.complete)
        phone.finalize(g1.id)

        # Guinea 2: no consent, so the whole household section is skipped.
        g2 = Survey(phone, GUINEA)
        g2.set("enumerator_name", A.TEXT("Mariama Diallo"))
        with self.assertRaises(t.TerrainError.Incomplete) as incomplete:
            phone.finalize(g2.id)
        self.assertIn("consent", " ".join(incomplete.exception.issues))
        g2.set("consent", A.CHOICE("no"))
        self.assertIn("household", g2.evaluation.non_relevant)
        self.assertEqual(g2.missing(), [])
        phone.finalize(g2.id)

        # Béguédo: a plot far from the river (bank erosion skipped), one crop.
        b = Survey(phone, BEGUEDO)
        b.set("enumerator_name", A.TEXT("Issa Ouédraogo"))
        b.set("season", A.CHOICE(b.codes("season")[0]))
        b.set("visit_round", A.CHOICE("mid_season"))
        b.set("visit_date", A.DATE("2026-07-15"))
        b.set("secteur", A.CHOICE(b.codes("secteur")[0]))
        b.set("zone", A.CHOICE(b.offered("zone")[0]))
        b.set("farmer_name", A.TEXT("Salif Kaboré"))
        b.set("farmer_sex", A.CHOICE("male"))
        b.set("tenure", A.CHOICE(b.codes("tenure")[0]))
        self.assertEqual([v.path for v in b.set("plot_id", A.TEXT("BGD-42")).violations], ["plot_id"])
        self.assertEqual(b.set("plot_id", A.TEXT("BGD-0042")).violations, [])
        b.set("plot_gps", A.GEO_POINT(t.GeoPoint(lat=12.0333, lon=-0.7167, altitude=250.0, accuracy=4.0)))
        b.set("plot_area_ha", A.DECIMAL(2.5))
        b.set("distance_river_m", A.INTEGER(2500))
        self.assertIn("bank_erosion_grp", b.evaluation.non_relevant)
        b.set("gully_erosion", A.CHOICE("no"))
        b.set("slm_techniques", A.CHOICES(["none"]))
        b.set("slm_training", A.CHOICE("no"))
        crop = phone.add_repeat_instance(b.id, "crop", "fr").index
        b.set(f"crop[{crop}]/crop_type", A.CHOICE(b.codes("crop_type")[0]))
        b.set(f"crop[{crop}]/crop_variety", A.CHOICE(b.offered(f"crop[{crop}]/crop_variety")[0]))
        b.set(f"crop[{crop}]/crop_area", A.DECIMAL(1.0))
        b.set(f"crop[{crop}]/crop_irrigated", A.CHOICE("no"))
        self.assertIn(f"crop[{crop}]/harvest_kg", b.evaluation.non_relevant)
        b.set("hh_size", A.INTEGER(6))
        b.set("water_point", A.CHOICE(b.codes("water_point")[0]))
        if "water_works" in b.missing():
            b.set("water_works", A.CHOICE(b.codes("water_works")[0]))
        b.set("latrine", A.CHOICE(b.codes("latrine")[0]))
        b.set("n_migrants", A.INTEGER(0))
        b.set("diaspora_support", A.CHOICES(["none"]))
        self.assertEqual(b.missing(), [])
        phone.finalize(b.id)

        # Sync, with progress; a cancelled handle stops a sync before it starts.
        cancelled = t.CancelHandle()
        cancelled.cancel()
        with self.assertRaises(t.TerrainError.Cancelled):
            phone.sync(None, cancelled)
        progress = Progress()
        summary = phone.sync(progress, t.CancelHandle())
        self.assertEqual(summary.progress.pushed, 3)
        self.assertEqual(summary.refused, [])
        self.assertTrue(progress.reports, "progress callbacks arrive")
        self.assertEqual(progress.reports[-1].pushed, 3)
        drafts = phone.list_surveys(t.SurveyFilter(status=t.SurveyStatus.FINALIZED, form_id="guinea_needs"))
        self.assertEqual(sorted(s.survey_id for s in drafts), sorted([g1.id, g2.id]))
        self.assertTrue(all(not s.dirty for s in phone.list_surveys(t.SurveyFilter())))

        # The supervisor sends Guinea 1 back with a comment on the household number.
        sup = Api(URL, supervisor, PASSWORD, "sup-laptop")
        comment = "Household number is 15 on the village list, not 12."
        sup.call("POST", f"/api/v1/surveys/{g1.id}/review",
                 {"action": "send_back", "comment": comment, "question": "hh_number"})
        phone.sync(progress)
        review = phone.review(g1.id)
        self.assertEqual(review.status, "sent_back")
        self.assertEqual([c.text for c in review.comments], [comment])
        self.assertEqual(review.comments[0].question, "hh_number")
        self.assertEqual(phone.survey(g1.id).review, review)
        to_fix = phone.list_surveys(t.SurveyFilter(review=["sent_back"]))
        self.assertEqual([s.survey_id for s in to_fix], [g1.id])
        self.assertEqual(to_fix[0].review_status, "sent_back")
        with self.assertRaises(t.TerrainError.Invalid):
            phone.list_surveys(t.SurveyFilter(review=["lost"]))

        # The enumerator fixes it and syncs; the server has the fix.
        if phone.survey(g1.id).status == t.SurveyStatus.FINALIZED:
            phone.reopen(g1.id)
        g1.set("hh_number", A.INTEGER(15))
        phone.finalize(g1.id)
        self.assertEqual(phone.sync().progress.pushed, 1)
        on_server = admin.call("GET", f"/api/v1/surveys/{g1.id}")
        self.assertEqual(on_server["answers"]["hh_number"], 15)
        self.assertEqual(len(on_server["answers"]["member"]), 2)
        history = phone.history(g1.id, "hh_number")
        self.assertEqual([h.value for h in history][-3:], [A.INTEGER(0), A.INTEGER(12), A.INTEGER(15)])
        self.assertEqual(history[-1].user, enumerator)
        self.assertEqual(phone.conflicts(g1.id), [])
        answers = {a.path: a.value for a in phone.survey(g1.id).answers}
        self.assertEqual(answers["member[1]/member_age"], A.INTEGER(3))

        # A second plot, on the river: a photo of the eroded bank, taken larger than the
        # form's max-pixels, goes up after the answers, and reads back byte for byte.
        b2 = Survey(phone, BEGUEDO)
        b2.set("distance_river_m", A.INTEGER(40))
        b2.set("bank_erosion", A.CHOICE("yes"))
        photo_path = os.path.join(data, "berge.png")
        with open(photo_path, "wb") as f:
            f.write(png(1600, 1000))
        with self.assertRaises(t.TerrainError.Invalid):
            phone.attach_media(b2.id, "farmer_name", photo_path)
        photo = phone.attach_media(b2.id, "erosion_photo", photo_path)
        self.assertEqual((photo.media_type, photo.width, photo.height), ("image/png", 1280, 800))
        os.remove(photo_path)  # the store holds its own copy
        answers = {a.path: a.value for a in phone.survey(b2.id).answers}
        self.assertEqual(answers["erosion_photo"], A.MEDIA(photo))
        self.assertEqual([m.sha256 for m in phone.pending_media()], [photo.sha256])
        self.assertEqual(phone.sync().progress.pushed, 1)
        uploads = Progress()
        sent = phone.upload_media(uploads, t.CancelHandle())
        self.assertEqual((sent.progress.media_files_done, sent.progress.media_bytes_done, sent.refused), (1, photo.size, []))
        self.assertEqual(uploads.reports[-1].media_bytes_done, photo.size)
        # Outside the store: refused before any file is looked for.
        with self.assertRaises(t.TerrainError.Invalid):
            phone.read_media("../../etc/passwd")
        self.assertEqual(phone.pending_media(), [])
        # The phone's store is encrypted: its files are sealed on the flash too, and read
        # only into memory.
        kept = phone.read_media(photo.sha256)
        self.assertEqual(len(kept), photo.size)
        with self.assertRaises(t.TerrainError.WrongKey):
            phone.media_file(photo.sha256)
        media_dir = os.path.join(data, "phone.db.media")
        for name in os.listdir(media_dir):
            with open(os.path.join(media_dir, name), "rb") as f:
                self.assertNotIn(kept[200:264], f.read(), name)
        self.assertEqual(sup.download(f"/api/v1/media/{photo.sha256}"), kept)

        # A bundle carries surveys and their forms to another device without a network.
        bundle = phone.export_bundle([b.id])
        other = t.TerrainStore.open(
            os.path.join(data, "other.db"), "colleague", "tablet", t.Role.ENUMERATOR, PlatformHttp()
        )
        imported = other.import_bundle(bundle)
        self.assertEqual((imported.created, imported.failed), (1, []))
        self.assertEqual(other.import_bundle(bundle).unchanged, 1)
        self.assertEqual(other.survey(b.id).answers, phone.survey(b.id).answers)
        with self.assertRaises(t.TerrainError.Invalid):
            other.import_bundle(b"not a bundle")

        # A second device enrols from the QR code the supervisor makes: no password typed,
        # the server and its pinned certificate from the code.
        user = next(u for u in admin.call("GET", "/api/v1/users") if u["username"] == enumerator)
        payload = sup.call("POST", f"/api/v1/users/{user['id']}/enrolments", {"label": "tablet"})["payload"]
        self.assertEqual(t.enrolment_user(payload), enumerator)
        tablet = t.TerrainStore.open(
            os.path.join(data, "tablet.db"), enumerator, "tablet-py", t.Role.ENUMERATOR, PlatformHttp()
        )
        enrolled = tablet.enrol(payload)
        self.assertEqual(enrolled.server_url, URL)
        self.assertEqual(enrolled.certificate_sha256, PIN)
        self.assertEqual(enrolled.login.role, "enumerator")
        self.assertEqual(len(tablet.download_forms()), 2)
        tablet.sync()
        # After a restart the app has only what it kept: the device's refresh token, which
        # gets the resumed session its short-lived token at the first call.
        self.assertTrue(enrolled.login.credential.startswith("rt_"))
        self.assertNotEqual(enrolled.login.credential, enrolled.login.token)
        tablet.resume_session(URL, enrolled.login.credential, PIN)
        tablet.sync()
        # The photo taken on the phone, fetched on the tablet.
        with self.assertRaises(t.TerrainError.NotFound):
            tablet.media_file(photo.sha256)
        fetched = tablet.download_media(photo.sha256, photo.size, None)
        with open(fetched, "rb") as f:
            self.assertEqual(f.read(), kept)
        with self.assertRaises(t.TerrainError.Auth):
            tablet.enrol(payload)  # a code works once
        # A code whose user name was edited: the server says whose token it gave.
        fresh = sup.call("POST", f"/api/v1/users/{user['id']}/enrolments", {})["payload"]
        with self.assertRaises(t.TerrainError.Invalid):
            other.enrol(fresh.replace(f"user={enumerator}", "user=colleague"))
        with self.assertRaises(t.TerrainError.Invalid):
            tablet.enrol("https://example.org/not-a-code")

        # The phone is lost: the supervisor revokes it, and its next sync says so in a kind
        # of its own; what it holds stays on it.
        devices = sup.call("GET", f"/api/v1/users/{user['id']}/devices")["devices"]
        lost = next(d for d in devices if d["device_id"] == "phone-py")
        self.assertIsNotNone(lost["last_sync_at"])
        sup.call("DELETE", f"/api/v1/users/{user['id']}/devices/{lost['key']}")
        with self.assertRaises(t.TerrainError.DeviceRevoked):
            phone.sync()
        self.assertEqual(len(phone.list_surveys(t.SurveyFilter())), 4)

        # What the phone holds is unreadable on disk and opens only with its key, which
        # the app rotates once the store is closed.
        del phone, g1, g2, b, b2  # the surveys' helpers hold the store too
        gc.collect()
        for name in os.listdir(data):
            # The database and its logs (phone.db.media holds the photos, not the answers).
            if name.startswith("phone.db") and os.path.isfile(os.path.join(data, name)):
                with open(os.path.join(data, name), "rb") as f:
                    self.assertNotIn(b"Mariama Diallo", f.read(), name)
        open_phone = lambda key: t.TerrainStore.open(  # noqa: E731
            phone_path, enumerator, "phone-py", t.Role.ENUMERATOR, PlatformHttp(), key
        )
        with self.assertRaises(t.TerrainError.WrongKey):
            open_phone(None)
        with self.assertRaises(t.TerrainError.WrongKey):
            open_phone(t.generate_store_key())
        rotated = t.generate_store_key()
        t.change_store_key(phone_path, store_key, rotated)
        self.assertEqual(len(open_phone(rotated).list_surveys(t.SurveyFilter())), 4)


if __name__ == "__main__":
    sys.exit(unittest.main())
