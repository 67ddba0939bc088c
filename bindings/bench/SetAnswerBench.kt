// The cost of one answer plus its evaluation through the generated Kotlin bindings, the same
// calls on the same form and answers as bindings/benches/set_answer.rs (run by bindings/bench.sh).

import java.nio.file.Files
import java.nio.file.Path
import uniffi.terrain_ffi.*

const val CALLS = 1_000
const val ROUNDS = 5

fun medianMicros(f: (Int) -> Unit): Double {
    for (i in 0 until 100) f(i)
    val rounds = (0 until ROUNDS).map {
        val start = System.nanoTime()
        for (i in 0 until CALLS) f(i)
        (System.nanoTime() - start) / 1e3 / CALLS
    }.sorted()
    return rounds[ROUNDS / 2]
}

fun main(args: Array<String>) {
    val json = Files.readString(Path.of(args[0]))
    val dir = Files.createTempDirectory("terrain-bench")
    val store = TerrainStore.open(dir.resolve("ffi.db").toString(), "bench", "bench-device", Role.ENUMERATOR)
    val form = store.importFormJson(json)
    val id = store.createSurvey(form.formId, form.version)
    store.setAnswer(id, "enumerator_name", AnswerValue.Text("Mariama"))
    store.setAnswer(id, "consent", AnswerValue.Choice("yes"))
    for ((i, age) in listOf(45L, 3L).withIndex()) {
        store.addRepeatInstance(id, "member")
        store.setAnswer(id, "member[$i]/member_name", AnswerValue.Text("Member $i"))
        store.setAnswer(id, "member[$i]/member_age", AnswerValue.Integer(age))
    }
    val set = medianMicros { i -> store.setAnswer(id, "hh_number", AnswerValue.Integer((i % 900 + 1).toLong())) }
    val eval = medianMicros { store.evaluate(id) }
    println("| call (Kotlin/JVM, $CALLS calls × $ROUNDS rounds, median) | µs per call |")
    println("| --- | ---: |")
    println("| terrain-ffi `setAnswer` (returns the evaluation) | ${"%.1f".format(set)} |")
    println("| terrain-ffi `evaluate` | ${"%.1f".format(eval)} |")
    store.close()
}
