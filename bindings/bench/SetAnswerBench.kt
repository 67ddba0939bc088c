// The cost of one answer plus its evaluation through the generated Kotlin bindings: the same
// calls, form, answers and rounds as bindings/benches/set_answer.rs (run by bindings/bench.sh).

import java.nio.file.Files
import java.nio.file.Path
import uniffi.terrain_ffi.*

/** The bench never reaches a server. */
object Offline : HttpClient {
    override fun send(request: HttpRequest): HttpResponse = throw TerrainException.Network("offline")
}

const val SURVEYS = 20
const val EDITS = 10
const val ROUNDS = 5

/** Median over rounds of the mean µs per call; the first round warms up and is dropped. */
fun medianMicros(setup: () -> List<String>, call: (String, Int) -> Unit): Double {
    val rounds = (0..ROUNDS).map {
        val surveys = setup()
        val start = System.nanoTime()
        for (i in 0 until EDITS) for (survey in surveys) call(survey, i)
        (System.nanoTime() - start) / 1e3 / (EDITS * surveys.size)
    }.drop(1).sorted()
    return rounds[ROUNDS / 2]
}

fun prefilled(store: TerrainStore, form: FormInfo): String {
    val id = store.createSurvey(form.formId, form.version)
    store.setAnswer(id, "enumerator_name", AnswerValue.Text("Mariama"))
    store.setAnswer(id, "consent", AnswerValue.Choice("yes"))
    for ((i, age) in listOf(45L, 3L).withIndex()) {
        store.addRepeatInstance(id, "member")
        store.setAnswer(id, "member[$i]/member_name", AnswerValue.Text("Member $i"))
        store.setAnswer(id, "member[$i]/member_age", AnswerValue.Integer(age))
    }
    return id
}

fun main(args: Array<String>) {
    val json = Files.readString(Path.of(args[0]))
    val dir = Files.createTempDirectory("terrain-bench")
    val store = TerrainStore.open(dir.resolve("ffi.db").toString(), "bench", "bench-device", Role.ENUMERATOR, Offline)
    val form = store.importFormJson(json)
    val fill = { (0 until SURVEYS).map { prefilled(store, form) } }
    val set = medianMicros(fill) { id, i -> store.setAnswer(id, "hh_number", AnswerValue.Integer((i + 1).toLong())) }
    val eval = medianMicros(fill) { id, _ -> store.evaluate(id) }
    println("| Kotlin/JVM (${SURVEYS * EDITS} calls per round, median of $ROUNDS rounds) | µs per call |")
    println("| --- | ---: |")
    println("| terrain-ffi `setAnswer` (returns the evaluation) | ${"%.1f".format(set)} |")
    println("| terrain-ffi `evaluate` | ${"%.1f".format(eval)} |")
    store.close()
}
