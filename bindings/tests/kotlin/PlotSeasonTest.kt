// A Béguédo plot season through the generated Kotlin bindings, against a real server.
//
// The admin publishes the mission's plot registration and seasonal monitoring forms; the
// phone downloads them, registers plots offline (finalizing a registration creates the plot
// in the `plots` entity list), starts a seasonal visit on one (the monitoring form offers the
// sector's plots and reads last season's values from the list), and the visit updates the
// plot. A property is settled, a plot deleted and restored. Then the season syncs: a
// teammate's phone receives the plots, both phones record a yield for the same plot without
// having seen each other's, the conflict reaches both, and the supervisor settles it through
// the API for both phones.

import java.nio.file.Files
import java.nio.file.Path
import uniffi.terrain_ffi.*

val REGISTRATION = "beguedo_plot_registration" to "2026120701"
val MONITORING = "beguedo_plot_monitoring" to "2026120701"

fun registerPlot(phone: TerrainStore, code: String, owner: String, secteur: String) {
    val survey = phone.createSurvey(REGISTRATION.first, REGISTRATION.second)
    val answers = listOf(
        "secteur" to AnswerValue.Choice(secteur),
        "plot_code" to AnswerValue.Text(code),
        "owner_name" to AnswerValue.Text(owner),
        "household_size" to AnswerValue.Integer(7),
        "tenure" to AnswerValue.Choice("owned"),
        "area_ha" to AnswerValue.Decimal(0.8),
        "location" to AnswerValue.GeoPoint(GeoPoint(11.78, -0.73, 0.0, 5.0)),
        "techniques" to AnswerValue.Choices(listOf("zai")),
        "on_river" to AnswerValue.Choice("no"),
    )
    for ((path, value) in answers) phone.setAnswer(survey, path, value)
    phone.finalize(survey)
}

// `main` for the JVM, under another name in Kotlin: every test file shares the root package.
@JvmName("main")
fun plotSeason(args: Array<String>) {
    val admin = ServerApi(URL, "admin", System.getenv("TERRAIN_ADMIN_PASSWORD"), pin = PIN)
    val project = ServerApi.number(admin.call("POST", "/api/v1/projects", """{"name":"plots-kt"}"""), "id")
    val team = ServerApi.number(admin.call("POST", "/api/v1/projects/$project/teams", """{"name":"beguedo-kt"}"""), "id")
    for ((name, role) in listOf("enu-plots-kt" to "enumerator", "enu-plots-kt-2" to "enumerator", "sup-plots-kt" to "supervisor")) {
        val user = admin.call("POST", "/api/v1/users", """{"username":"$name","password":"$PASSWORD","role":"$role"}""")
        admin.call("POST", "/api/v1/teams/$team/members", """{"user_id":${ServerApi.number(user, "id")}}""")
    }
    val xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    // The registration first: it declares the plots list that monitoring reads as plots.csv.
    for (form in listOf("beguedo_plot_registration.xlsx", "beguedo_plot_monitoring.xlsx")) {
        val bytes = Files.readAllBytes(Path.of(System.getenv("TERRAIN_FORMS"), form))
        admin.call("POST", "/api/v1/projects/$project/forms", raw = bytes, contentType = xlsx)
    }

    val path = Files.createTempDirectory("terrain-plots-kt").resolve("phone.db").toString()
    val phone = TerrainStore.open(path, "enu-plots-kt", "phone-plots-kt", Role.ENUMERATOR, PlatformHttp(), null)
    phone.login(URL, PASSWORD, PIN)
    expectEqual(phone.downloadForms().map { it.formId }.sorted(), listOf(MONITORING.first, REGISTRATION.first), "forms")

    registerPlot(phone, "BGD-0412", "Salif Ouédraogo", "secteur_3")
    registerPlot(phone, "BGD-0413", "Awa Bambara", "secteur_3")
    registerPlot(phone, "BGD-0501", "Issa Zongo", "secteur_5")
    val plots = phone.entities("plots")
    expectEqual(plots.map { it.label }, listOf("BGD-0412 — Salif Ouédraogo", "BGD-0413 — Awa Bambara", "BGD-0501 — Issa Zongo"), "plots")
    expectEqual(phone.entities("plots", search = "zongo").map { it.label }, listOf("BGD-0501 — Issa Zongo"), "search")
    val plot = plots[0]
    expectEqual(phone.entity("plots", plot.id), plot, "lookup")
    expectEqual(phone.entity("plots", "nowhere"), null, "unknown plot")

    val visit = phone.startFollowUp(MONITORING.first, MONITORING.second, plot.id)
    var evaluation: Evaluation? = null
    for ((p, value) in listOf(
        "season" to AnswerValue.Choice("rainy_2026"), "secteur" to AnswerValue.Choice("secteur_3"),
        "crop" to AnswerValue.Choice("sorghum"), "yield_kg" to AnswerValue.Decimal(420.0),
        "techniques" to AnswerValue.Choices(listOf("half_moons")),
    )) evaluation = phone.setAnswer(visit, p, value)
    val offered = evaluation!!.choices.first { it.path == "plot" }.codes
    expectEqual(offered.sorted(), plots.take(2).map { it.id }.sorted(), "sector 3's plots")
    phone.finalize(visit)
    val updated = phone.entity("plots", plot.id)!!
    expectEqual(updated.properties["yield_kg"] to updated.properties["crop"], "420" to "sorghum", "the visit's values")
    expectEqual(phone.entitySources("plots", plot.id).map { it.action }.sorted(), listOf("create", "update"), "sources")

    val next = phone.startFollowUp(MONITORING.first, MONITORING.second, plot.id)
    val seen = phone.setAnswer(next, "secteur", AnswerValue.Choice("secteur_3"))
    expectEqual(seen.calculated.first { it.path == "last_yield" }.value, "420", "last season's harvest")

    expectEqual(phone.settleEntity("plots", plot.id, "yield_kg", "400").properties["yield_kg"], "400", "settled")
    expectEqual(phone.entityConflicts("plots", plot.id), emptyList<EntityConflictInfo>(), "no conflict")
    expect(phone.setEntityDeleted("plots", plots[1].id, true).deleted) { "deleted" }
    expectEqual(phone.entities("plots").size, 2, "a deleted plot is not listed")
    expectEqual(phone.entities("plots", includeDeleted = true).size, 3, "unless asked")
    phone.setEntityDeleted("plots", plots[1].id, false)

    expectThrows<TerrainException.NotFound> { phone.settleEntity("plots", "nowhere", "yield_kg", "1") }
    expectThrows<TerrainException.Invalid> { phone.startFollowUp(REGISTRATION.first, REGISTRATION.second, plot.id) }

    // The season syncs; a teammate's phone receives the plots.
    expectEqual(phone.sync().progress.entitiesPushed, 3uL, "plots pushed")
    val otherPath = Files.createTempDirectory("terrain-plots-kt").resolve("other.db").toString()
    val other = TerrainStore.open(otherPath, "enu-plots-kt-2", "phone-plots-kt-2", Role.ENUMERATOR, PlatformHttp(), null)
    other.login(URL, PASSWORD, PIN)
    other.downloadForms()
    expectEqual(other.sync().progress.entitiesPulled, 3uL, "plots pulled")
    expectEqual(other.entities("plots").map { it.label }, phone.entities("plots").map { it.label }, "the same plots")

    // Both record this season's yield without having seen the other's: a conflict on both.
    for ((device, kg) in listOf(phone to 510.0, other to 480.0)) {
        val again = device.startFollowUp(MONITORING.first, MONITORING.second, plot.id)
        for ((p, value) in listOf(
            "season" to AnswerValue.Choice("rainy_2027"), "secteur" to AnswerValue.Choice("secteur_3"),
            "crop" to AnswerValue.Choice("millet"), "yield_kg" to AnswerValue.Decimal(kg),
            "techniques" to AnswerValue.Choices(listOf("half_moons")),
        )) device.setAnswer(again, p, value)
        device.finalize(again)
    }
    phone.sync()
    other.sync()
    phone.sync()
    for (device in listOf(phone, other)) {
        val yields = device.entityConflicts("plots", plot.id).filter { it.property == "yield_kg" }
            .flatMap { c -> c.values.map { it.value } }.sorted()
        expectEqual(yields, listOf("480", "510"), "both yields kept")
    }

    // The supervisor settles it from the desk; both phones get the settled value.
    val sup = ServerApi(URL, "sup-plots-kt", PASSWORD, pin = PIN)
    val found = sup.call("GET", "/api/v1/entity-lists/plots/entities?conflicted=true")
    expect(found.contains(plot.id)) { "the conflicted plot is listed: $found" }
    sup.call("POST", "/api/v1/entity-lists/plots/entities/${plot.id}/settle", """{"property":"yield_kg","value":"495"}""")
    for (device in listOf(phone, other)) {
        device.sync()
        val settled = device.entity("plots", plot.id)!!
        expectEqual(settled.properties["yield_kg"] to settled.hasConflicts, "495" to false, "settled on every phone")
    }
    println("PlotSeasonTest: ok")
}
