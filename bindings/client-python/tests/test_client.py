"""terrain_client against a real server, as an analyst's notebook uses it.

bindings/test.sh starts the server on loopback and passes TERRAIN_URL,
TERRAIN_ADMIN_PASSWORD and TERRAIN_FORMS. The admin sets up a project with the household
form; an enumerator's phone (the generated FFI bindings) fills in three households with
their members and syncs; the analyst then pulls them into pandas, pulls again
incrementally, downloads an export, and uses a feed token.
"""

import json
import os
import tempfile
import unittest
from pathlib import Path

import pandas as pd
import terrain_ffi as t
from platform_http import PlatformHttp
from server_api import Api

from terrain_client import Client, IncrementalPull, TerrainError

A = t.AnswerValue
URL = os.environ["TERRAIN_URL"]
PASSWORD = "analyst-password-1"
ROOT = Path(__file__).resolve().parents[3]
HOUSEHOLD = ("household", "2026110101")


class AnalystNotebook(unittest.TestCase):
    def test_an_analyst_pulls_submissions_into_pandas(self):
        admin = Api(URL, "admin", os.environ["TERRAIN_ADMIN_PASSWORD"])
        project = admin.call("POST", "/api/v1/projects", {"name": "notebook"})["id"]
        team = admin.call("POST", f"/api/v1/projects/{project}/teams", {"name": "beguedo"})["id"]
        form = (ROOT / "core/tests/fixtures/household.json").read_bytes()
        admin.call("POST", f"/api/v1/projects/{project}/forms", raw=form)
        enumerator = admin.call("POST", "/api/v1/users",
                                {"username": "enum-nb", "password": PASSWORD, "role": "enumerator"})
        admin.call("POST", f"/api/v1/teams/{team}/members", {"user_id": enumerator["id"]})
        analyst = admin.call("POST", "/api/v1/users",
                             {"username": "analyst-nb", "password": PASSWORD, "role": "analyst"})
        admin.call("POST", f"/api/v1/projects/{project}/members", {"user_id": analyst["id"]})

        # The enumerator's phone: three households, each with two members, synced.
        phone = t.TerrainStore.open(os.path.join(tempfile.mkdtemp(), "phone.db"), "enum-nb", "phone-nb",
                                    t.Role.ENUMERATOR, PlatformHttp())
        phone.login(URL, PASSWORD)
        phone.download_forms()
        ids = []
        for i, village in enumerate(["Béguédo", "Niagho", "Kindia"]):
            survey = phone.create_survey(*HOUSEHOLD)
            phone.set_answer(survey, "village", A.TEXT(village), None)
            phone.set_answer(survey, "hh_size", A.INTEGER(4 + i), None)
            phone.set_answer(survey, "crops", A.CHOICES(["maize", "sorghum"]), None)
            for j in range(2):
                phone.add_repeat_instance(survey, "member", None)
                phone.set_answer(survey, f"member[{j}]/member_name", A.TEXT(f"{village} {j}"), None)
                phone.set_answer(survey, f"member[{j}]/age", A.INTEGER(30 - 20 * j), None)
            ids.append(survey)
        phone.sync()

        terrain = Client.login(URL, "analyst-nb", PASSWORD)
        self.assertIn("notebook", [p.name for p in terrain.projects()])
        forms = terrain.forms(project)
        self.assertEqual([(f.form_id, f.version) for f in forms], [HOUSEHOLD])

        # Every submission, with its members in their own frame, linked by keys.
        data = terrain.submissions("household")
        self.assertEqual(sorted(data.main["_uuid"]), sorted(ids))
        self.assertEqual(sorted(data.main["village"]), ["Béguédo", "Kindia", "Niagho"])
        self.assertEqual(sorted(data.main["hh_size"].astype(int)), [4, 5, 6])
        self.assertTrue(pd.api.types.is_datetime64_any_dtype(data.main["_submission_time"]))
        members = data.repeats["member"]
        self.assertEqual(len(members), 6)
        self.assertTrue(set(members["_submission__uuid"]) == set(ids))
        joined = members.merge(data.main, left_on="_parent_index", right_on="_index", suffixes=("", "_survey"))
        self.assertTrue((joined["member_name"].str.split(" ").str[0] == joined["village"]).all())
        self.assertGreater(data.cursor, 0)

        # Incremental pulls remember their cursor in a file: all, then nothing, then what changed.
        state = Path(tempfile.mkdtemp()) / "household.cursor.json"
        pull = IncrementalPull(terrain, "household", state)
        self.assertEqual(len(pull.pull().main), 3)
        self.assertEqual(json.loads(state.read_text())["cursor"], pull.cursor)
        self.assertEqual(len(pull.pull().main), 0)
        phone.set_answer(ids[0], "hh_size", A.INTEGER(12), None)
        phone.sync()
        changed = IncrementalPull(terrain, "household", state).pull()
        self.assertEqual(list(changed.main["_uuid"]), [ids[0]])
        self.assertEqual(list(changed.main["hh_size"]), ["12"])

        # An export downloaded to a file, whole.
        target = Path(tempfile.mkdtemp()) / "household.xlsx"
        terrain.download_export("household", target, format="xlsx", review="any")
        self.assertEqual(target.read_bytes()[:2], b"PK")

        # A feed token reads, and only reads; refusals are typed and say what to do.
        token = terrain.create_feed_token("notebook")
        reader = Client(URL, token)
        self.assertEqual(len(reader.submissions("household").main), 3)
        with self.assertRaises(TerrainError) as refused:
            reader._json("GET", "/api/v1/surveys")
        self.assertEqual(refused.exception.status, 403)
        self.assertIn("feed token", str(refused.exception))
        with self.assertRaises(TerrainError) as unknown:
            terrain.submissions("no_such_form")
        self.assertEqual(unknown.exception.status, 404)
        with self.assertRaises(ValueError):
            Client("http://example.org", token)


if __name__ == "__main__":
    unittest.main()
