// An enumerator's day through the generated Kotlin bindings, against a real server.
//
// bindings/test.sh starts the server on loopback over TLS with a self-signed certificate, and
// passes TERRAIN_URL, TERRAIN_CERT_SHA256 (the pin), TERRAIN_ADMIN_PASSWORD and TERRAIN_FORMS. The admin sets up a project with the two mission
// forms; the enumerator's phone (the FFI) logs in, downloads the forms, fills in two Guinea
// surveys and one Béguédo survey, finalizes and syncs; the supervisor sends one back with a
// comment; the phone sees the comment, fixes the answer and syncs; the server has the fix.

import java.awt.image.BufferedImage
import java.nio.file.Files
import java.nio.file.Path
import javax.imageio.ImageIO
import uniffi.terrain_ffi.*

val URL: String = System.getenv("TERRAIN_URL") ?: error("TERRAIN_URL is not set: run bindings/test.sh")
val PIN: String? = System.getenv("TERRAIN_CERT_SHA256")
const val PASSWORD = "enumerator-password-1"
val GUINEA = "guinea_needs" to "2026120801"
val BEGUEDO = "beguedo_slm" to "2026110101"

fun expect(condition: Boolean, what: () -> String) {
    if (!condition) throw AssertionError(what())
}

fun <T> expectEqual(actual: T, expected: T, what: String = "") {
    if (actual != expected) throw AssertionError("$what: expected $expected, got $actual")
}

inline fun <reified E : Throwable> expectThrows(block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("expected ${E::class.simpleName}, got $e", e)
    }
    throw AssertionError("expected ${E::class.simpleName}, nothing was thrown")
}

class Progress : SyncListener {
    val reports = mutableListOf<SyncProgress>()
    override fun onProgress(progress: SyncProgress) {
        reports.add(progress)
    }
}

fun find(nodes: List<FormNode>, name: String): FormNode? {
    for (node in nodes) {
        if (node.name == name) return node
        find(node.children, name)?.let { return it }
    }
    return null
}

/** One survey being filled in, keeping the latest evaluation. */
class Survey(val store: TerrainStore, form: Pair<String, String>) {
    val tree = store.formTree(form.first, form.second, "fr")
    val id = store.createSurvey(form.first, form.second)
    var evaluation = store.evaluate(id)

    fun set(path: String, value: AnswerValue): Evaluation {
        evaluation = store.setAnswer(id, path, value, "fr")
        return evaluation
    }

    fun text(path: String, value: String) = set(path, AnswerValue.Text(value))
    fun int(path: String, value: Long) = set(path, AnswerValue.Integer(value))
    fun choice(path: String, code: String) = set(path, AnswerValue.Choice(code))
    fun codes(name: String) = find(tree.children, name)!!.choices.map { it.code }
    fun offered(path: String) = evaluation.choices.first { it.path == path }.codes
    fun calculated(path: String) = evaluation.calculated.first { it.path == path }.value
    fun missing() = evaluation.missingRequired.map { it.path }
}

fun main() {
    val admin = ServerApi(URL, "admin", System.getenv("TERRAIN_ADMIN_PASSWORD"), pin = PIN)
    val users = admin.setupProject("kt", System.getenv("TERRAIN_FORMS"), PASSWORD)
    val enumerator = users.getValue("enumerator")
    val supervisor = users.getValue("supervisor")
    val data = Files.createTempDirectory("terrain-kt")
    // The phone's store is encrypted under a key the app would keep in the Android Keystore
    // (docs/mobile.md): every answer on the flash is unreadable without it.
    val phonePath = data.resolve("phone.db").toString()
    val storeKey = generateStoreKey()
    val phone = TerrainStore.open(phonePath, enumerator, "phone-kt", Role.ENUMERATOR, PlatformHttp(), storeKey)

    // Errors are typed exceptions.
    expectThrows<TerrainException.Auth> { phone.sync() }
    val wrong = expectThrows<TerrainException.Auth> { phone.login(URL, "wrong password", PIN) }
    expect(wrong.detail.isNotBlank()) { "an error says what happened" }
    if (PIN != null) {
        // Another certificate than the pinned one: refused before the password leaves the phone.
        expectThrows<TerrainException.Network> { phone.login(URL, PASSWORD, "0".repeat(64)) }
    }
    // Plain HTTP beyond this machine never leaves the phone either.
    expectThrows<TerrainException.Invalid> { phone.login("http://192.0.2.1:8080", PASSWORD) }
    val login = phone.login(URL, PASSWORD, PIN)
    expectEqual(login.role, "enumerator", "role")
    expectEqual(phone.deviceKey(), login.deviceKey, "device key")

    expectEqual(phone.downloadForms().map { it.formId }.sorted(), listOf("beguedo_slm", "guinea_needs"), "forms")
    expectEqual(phone.downloadForms(), emptyList(), "forms already held")
    val tree = phone.formTree(GUINEA.first, GUINEA.second, "fr")
    expectEqual(tree.language, "Français (fr)", "language")
    val consent = find(tree.children, "consent")!!
    expectEqual(consent.questionType, "select_one", "consent type")
    expectEqual(consent.choices.map { it.label }, listOf("Oui", "Non"), "consent labels")
    expectEqual(find(tree.children, "member")!!.kind, NodeKind.REPEAT, "member kind")

    // Guinea 1: a full household with a two-member roster.
    val g1 = Survey(phone, GUINEA)
    expectThrows<TerrainException.NotFound> { phone.setAnswer("no-such-survey", "consent", AnswerValue.Choice("yes")) }
    expectThrows<TerrainException.Invalid> { g1.text("hh_number", "twelve") }
    expectThrows<TerrainException.Invalid> { g1.int("member[x]/member_age", 3) }
    g1.text("enumerator_name", "Mariama Diallo")
    g1.choice("consent", "yes")
    g1.choice("region", g1.codes("region")[0])
    for (name in listOf("prefecture", "sous_prefecture", "village")) {
        val offered = g1.offered(name)
        expect(offered.size < g1.codes(name).size) { "$name choices are filtered" }
        g1.choice(name, offered[0])
    }
    // A constraint violation, with the form's message, then its fix.
    val violated = g1.int("hh_number", 0)
    expectEqual(violated.violations.map { it.path }, listOf("hh_number"), "violation")
    expect(violated.violations[0].message.isNotBlank()) { "a violation has a message" }
    expectEqual(g1.int("hh_number", 12).violations, emptyList(), "fixed")
    g1.text("respondent_name", "Fatoumata Camara")
    g1.choice("respondent_role", g1.codes("respondent_role")[0])
    val members = listOf(listOf("Alpha Diallo", 45L, "male", "head"), listOf("Aïssata Diallo", 3L, "female", "child"))
    for ((i, member) in members.withIndex()) {
        expectEqual(phone.addRepeatInstance(g1.id, "member", "fr").index, i.toUInt(), "instance index")
        g1.text("member[$i]/member_name", member[0] as String)
        g1.int("member[$i]/member_age", member[1] as Long)
        g1.choice("member[$i]/member_sex", member[2] as String)
        g1.choice("member[$i]/member_relation", member[3] as String)
        g1.choice("member[$i]/member_health", g1.codes("member_health")[0])
    }
    g1.choice("member[0]/member_schooling", g1.codes("member_schooling")[0])
    // A three-year-old skips the education questions.
    expect("member[1]/member_education" in g1.evaluation.nonRelevant) { "education skipped" }
    expectEqual(g1.calculated("hh_size"), "2", "hh_size")
    expectEqual(g1.calculated("head_name"), "Alpha Diallo", "head_name")
    val extra = phone.addRepeatInstance(g1.id, "member")
    expect("member[2]/member_name" in extra.evaluation.missingRequired.map { it.path }) { "new member is required" }
    val removed = phone.removeRepeatInstance(g1.id, "member", 2u)
    expect("member[2]/member_name" !in removed.missingRequired.map { it.path }) { "removed member is gone" }
    g1.choice("facility_type", "health_centre")
    g1.int("facility_travel_min", 40)
    g1.set("health_barriers", AnswerValue.Choices(listOf("cost", "distance")))
    g1.choice("sick_last_month", "no")
    expect("sought_care" in g1.evaluation.nonRelevant) { "sought_care skipped" }
    g1.set("income_sources", AnswerValue.Choices(listOf("crops")))
    g1.set("farm_area_ha", AnswerValue.Decimal(1.5))
    g1.choice("diaspora_invest_interest", "not")
    g1.set("priority_rank", AnswerValue.Choices(g1.codes("priority_rank")))
    g1.choice("water_source", "borehole")
    g1.choice("electricity", "solar")
    g1.choice("relatives_abroad", "no")
    g1.set("hh_gps", AnswerValue.GeoPoint(GeoPoint(9.5092, -13.7122, 12.0, 5.0)))
    expectEqual(g1.missing(), emptyList(), "Guinea 1 missing")
    expect(g1.evaluation.complete) { "Guinea 1 complete" }
    phone.finalize(g1.id)

    // Guinea 2: no consent, so the whole household section is skipped.
    val g2 = Survey(phone, GUINEA)
    g2.text("enumerator_name", "Mariama Diallo")
    val incomplete = expectThrows<TerrainException.Incomplete> { phone.finalize(g2.id) }
    expect(incomplete.issues.any { it.startsWith("consent") }) { "issues name consent: ${incomplete.issues}" }
    g2.choice("consent", "no")
    expect("household" in g2.evaluation.nonRelevant) { "household skipped" }
    phone.finalize(g2.id)

    // Béguédo: a plot far from the river (bank erosion skipped), one crop.
    val b = Survey(phone, BEGUEDO)
    b.text("enumerator_name", "Issa Ouédraogo")
    b.choice("season", b.codes("season")[0])
    b.choice("visit_round", "mid_season")
    b.set("visit_date", AnswerValue.Date("2026-07-15"))
    b.choice("secteur", b.codes("secteur")[0])
    b.choice("zone", b.offered("zone")[0])
    b.text("farmer_name", "Salif Kaboré")
    b.choice("farmer_sex", "male")
    b.choice("tenure", b.codes("tenure")[0])
    expectEqual(b.text("plot_id", "BGD-42").violations.map { it.path }, listOf("plot_id"), "plot_id violation")
    expectEqual(b.text("plot_id", "BGD-0042").violations, emptyList(), "plot_id fixed")
    b.set("plot_gps", AnswerValue.GeoPoint(GeoPoint(12.0333, -0.7167, 250.0, 4.0)))
    b.set("plot_area_ha", AnswerValue.Decimal(2.5))
    b.int("distance_river_m", 2500)
    expect("bank_erosion_grp" in b.evaluation.nonRelevant) { "bank erosion skipped" }
    b.choice("gully_erosion", "no")
    b.set("slm_techniques", AnswerValue.Choices(listOf("none")))
    b.choice("slm_training", "no")
    val crop = phone.addRepeatInstance(b.id, "crop", "fr").index
    b.choice("crop[$crop]/crop_type", b.codes("crop_type")[0])
    b.choice("crop[$crop]/crop_variety", b.offered("crop[$crop]/crop_variety")[0])
    b.set("crop[$crop]/crop_area", AnswerValue.Decimal(1.0))
    b.choice("crop[$crop]/crop_irrigated", "no")
    expect("crop[$crop]/harvest_kg" in b.evaluation.nonRelevant) { "harvest skipped before harvest" }
    b.int("hh_size", 6)
    b.choice("water_point", b.codes("water_point")[0])
    if ("water_works" in b.missing()) b.choice("water_works", b.codes("water_works")[0])
    b.choice("latrine", b.codes("latrine")[0])
    b.int("n_migrants", 0)
    b.set("diaspora_support", AnswerValue.Choices(listOf("none")))
    expectEqual(b.missing(), emptyList(), "Béguédo missing")
    phone.finalize(b.id)

    // Sync, with progress; a cancelled handle stops a sync before it starts.
    val cancelled = CancelHandle()
    cancelled.cancel()
    expectThrows<TerrainException.Cancelled> { phone.sync(null, cancelled) }
    val progress = Progress()
    val summary = phone.sync(progress, CancelHandle())
    expectEqual(summary.progress.pushed, 3UL, "pushed")
    expectEqual(summary.refused, emptyList(), "refused")
    expect(progress.reports.isNotEmpty()) { "progress callbacks arrive" }
    expectEqual(progress.reports.last().pushed, 3UL, "last progress")
    val finalized = phone.listSurveys(SurveyFilter(formId = "guinea_needs", status = SurveyStatus.FINALIZED))
    expectEqual(finalized.map { it.surveyId }.sorted(), listOf(g1.id, g2.id).sorted(), "finalized Guinea surveys")
    expect(phone.listSurveys(SurveyFilter()).none { it.dirty }) { "everything acknowledged" }

    // The supervisor sends Guinea 1 back with a comment on the household number.
    val sup = ServerApi(URL, supervisor, PASSWORD, "sup-laptop", pin = PIN)
    val comment = "Household number is 15 on the village list, not 12."
    sup.call("POST", "/api/v1/surveys/${g1.id}/review",
        """{"action":"send_back","comment":"$comment","question":"hh_number"}""")
    phone.sync(progress)
    val review = phone.review(g1.id)
    expectEqual(review.status, "sent_back", "review status")
    expectEqual(review.comments.map { it.text }, listOf(comment), "comments")
    expectEqual(review.comments[0].question, "hh_number", "comment question")
    val toFix = phone.listSurveys(SurveyFilter(review = listOf("sent_back")))
    expectEqual(toFix.map { it.surveyId }, listOf(g1.id), "the to-fix list")
    expectThrows<TerrainException.Invalid> { phone.listSurveys(SurveyFilter(review = listOf("lost"))) }

    // The enumerator fixes it and syncs; the server has the fix.
    if (phone.survey(g1.id).status == SurveyStatus.FINALIZED) phone.reopen(g1.id)
    g1.int("hh_number", 15)
    phone.finalize(g1.id)
    expectEqual(phone.sync().progress.pushed, 1UL, "pushed the fix")
    val onServer = admin.call("GET", "/api/v1/surveys/${g1.id}")
    expectEqual(ServerApi.number(onServer, "hh_number"), 15L, "server's hh_number")
    val history = phone.history(g1.id, "hh_number")
    expectEqual(history.map { it.value }.takeLast(3),
        listOf(AnswerValue.Integer(0), AnswerValue.Integer(12), AnswerValue.Integer(15)), "history")
    expectEqual(history.last().user, enumerator, "history user")
    expectEqual(phone.conflicts(g1.id), emptyList(), "conflicts")

    // A second plot, on the river: a photo of the eroded bank, taken larger than the form's
    // max-pixels, goes up after the answers, and reads back byte for byte.
    val b2 = Survey(phone, BEGUEDO)
    b2.int("distance_river_m", 40)
    b2.choice("bank_erosion", "yes")
    val photoFile = data.resolve("berge.jpg")
    val picture = BufferedImage(2000, 1500, BufferedImage.TYPE_INT_RGB)
    for (x in 0 until 2000) for (y in 0 until 1500) picture.setRGB(x, y, (x * 7 + y * 3) and 0xffffff)
    ImageIO.write(picture, "jpg", photoFile.toFile())
    expectThrows<TerrainException.Invalid> { phone.attachMedia(b2.id, "farmer_name", photoFile.toString()) }
    val photo = phone.attachMedia(b2.id, "erosion_photo", photoFile.toString())
    expectEqual(Triple(photo.mediaType, photo.width, photo.height), Triple("image/jpeg", 1280u, 960u), "the photo as kept")
    Files.delete(photoFile)
    expectEqual(phone.pendingMedia().map { it.sha256 }, listOf(photo.sha256), "waiting to be sent")
    expectEqual(phone.sync().progress.pushed, 1UL, "the answers first")
    val uploads = Progress()
    val sent = phone.uploadMedia(uploads, CancelHandle())
    expectEqual(sent.progress.mediaFilesDone, 1UL, "photos sent")
    expectEqual(sent.refused, emptyList(), "photos refused")
    expectEqual(uploads.reports.last().mediaBytesDone, photo.size, "progress in bytes")
    expectEqual(phone.pendingMedia(), emptyList(), "nothing left to send")
    // The phone's store is encrypted: its files are sealed on the flash too, read only into memory.
    val kept = phone.readMedia(photo.sha256)
    expectEqual(kept.size.toULong(), photo.size, "the photo read back")
    expectThrows<TerrainException.WrongKey> { phone.mediaFile(photo.sha256) }
    Files.list(data.resolve("phone.db.media")).forEach { file ->
        val sealed = Files.readAllBytes(file)
        expect(!String(sealed, Charsets.ISO_8859_1).contains(String(kept.copyOfRange(200, 264), Charsets.ISO_8859_1))) {
            "the photo is in the clear in $file"
        }
    }
    expect(sup.download("/api/v1/media/${photo.sha256}").contentEquals(kept)) { "the server's copy differs" }

    // A bundle carries surveys and their forms to another device without a network.
    val bundle = phone.exportBundle(listOf(b.id))
    val other = TerrainStore.open(data.resolve("other.db").toString(), "colleague", "tablet", Role.ENUMERATOR, PlatformHttp())
    expectEqual(other.importBundle(bundle).created, 1u, "bundle import")
    expectEqual(other.importBundle(bundle).unchanged, 1u, "bundle import again")
    expectEqual(other.survey(b.id).answers, phone.survey(b.id).answers, "bundle answers")
    expectThrows<TerrainException.Invalid> { other.importBundle("not a bundle".toByteArray()) }

    // A second device enrols from the QR code the supervisor makes: no password typed, the
    // server and its pinned certificate from the code.
    val enumeratorId = users.getValue("enumerator id")
    val payload = ServerApi.field(sup.call("POST", "/api/v1/users/$enumeratorId/enrolments", """{"label":"tablet"}"""), "payload")
    expectEqual(enrolmentUser(payload), enumerator, "the QR code's user")
    val tablet = TerrainStore.open(data.resolve("tablet.db").toString(), enumerator, "tablet-kt", Role.ENUMERATOR, PlatformHttp())
    val enrolled = tablet.enrol(payload)
    expectEqual(enrolled.serverUrl, URL, "enrolled server")
    expectEqual(enrolled.certificateSha256, PIN, "enrolled pin")
    expectEqual(tablet.downloadForms().size, 2, "forms on the enrolled tablet")
    tablet.sync()
    // After a restart the app has only what it kept: the device's refresh token.
    expect(enrolled.login.credential.startsWith("rt_")) { "the credential to keep is the refresh token" }
    tablet.resumeSession(URL, enrolled.login.credential, PIN)
    tablet.sync()
    // The photo taken on the phone, fetched on the tablet.
    expectThrows<TerrainException.NotFound> { tablet.mediaFile(photo.sha256) }
    val fetched = tablet.downloadMedia(photo.sha256, photo.size, null)
    expect(Files.readAllBytes(Path.of(fetched)).contentEquals(kept)) { "the tablet's copy differs" }
    expectThrows<TerrainException.Invalid> { tablet.enrol("https://example.org/not-a-code") }

    // The phone is lost: the supervisor revokes it, and its next sync says so.
    val devices = sup.call("GET", "/api/v1/users/$enumeratorId/devices")
    // Each device is listed as {"key":…,"device_id":…, …}.
    val key = Regex("\"key\":\"([0-9a-f]{16})\",\"device_id\":\"phone-kt\"").find(devices)?.groupValues?.get(1)
        ?: error("phone-kt is not listed: $devices")
    sup.call("DELETE", "/api/v1/users/$enumeratorId/devices/$key")
    expectThrows<TerrainException.DeviceRevoked> { phone.sync() }
    tablet.close()

    phone.close()
    other.close()

    // What the phone holds stays unreadable on the flash, and opens only with its key,
    // which the app can rotate once the store is closed.
    // The database and its logs (phone.db.media holds the photos, not the answers).
    val onDisk = Files.list(data).filter { it.fileName.toString().startsWith("phone.db") && Files.isRegularFile(it) }.toList()
    expect(onDisk.none { String(Files.readAllBytes(it), Charsets.ISO_8859_1).contains("Fatoumata Camara") }) {
        "a respondent's name is readable in $onDisk"
    }
    expectThrows<TerrainException.WrongKey> {
        TerrainStore.open(phonePath, enumerator, "phone-kt", Role.ENUMERATOR, PlatformHttp())
    }
    expectThrows<TerrainException.WrongKey> {
        TerrainStore.open(phonePath, enumerator, "phone-kt", Role.ENUMERATOR, PlatformHttp(), generateStoreKey())
    }
    val rotated = generateStoreKey()
    changeStoreKey(phonePath, storeKey, rotated)
    val reopened = TerrainStore.open(phonePath, enumerator, "phone-kt", Role.ENUMERATOR, PlatformHttp(), rotated)
    expectEqual(reopened.listSurveys(SurveyFilter()).size, 4, "the surveys under the rotated key")
    reopened.close()
    println("EnumeratorDayTest: 1 passed, 0 failed")
}
