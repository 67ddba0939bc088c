// The relay server's HTTP API as an admin or supervisor uses it: just enough for the tests.
// JSON is read with small patterns, since the test classpath has no JSON library.

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path

class ServerApi(
    val url: String,
    username: String,
    password: String,
    device: String = "test-laptop",
    pin: String? = null,
) {
    // A relay with a self-signed certificate: pinned, as the apps pin it.
    private val http = when (pin) {
        null -> HttpClient.newHttpClient()
        else -> HttpClient.newBuilder().sslContext(Pinning.context(pin)).build()
    }
    private var token: String? = null

    init {
        val body = """{"username":"$username","password":"$password","device_id":"$device"}"""
        token = field(call("POST", "/api/v1/auth/login", body), "token")
    }

    /** Sends one request; returns the body. Fails on any status other than 2xx. */
    fun call(method: String, path: String, json: String? = null, raw: ByteArray? = null,
             contentType: String = "application/json"): String {
        val publisher = when {
            raw != null -> HttpRequest.BodyPublishers.ofByteArray(raw)
            json != null -> HttpRequest.BodyPublishers.ofString(json)
            else -> HttpRequest.BodyPublishers.noBody()
        }
        val builder = HttpRequest.newBuilder(URI.create(url + path)).method(method, publisher)
        if (raw != null || json != null) builder.header("content-type", contentType)
        token?.let { builder.header("authorization", "Bearer $it") }
        val response = http.send(builder.build(), HttpResponse.BodyHandlers.ofString())
        check(response.statusCode() in 200..299) { "$method $path -> ${response.statusCode()}: ${response.body()}" }
        return response.body()
    }

    /** GETs `path`; returns the raw bytes of the answer. Fails on any status but 200. */
    fun download(path: String): ByteArray {
        val builder = HttpRequest.newBuilder(URI.create(url + path)).GET()
        token?.let { builder.header("authorization", "Bearer $it") }
        val response = http.send(builder.build(), HttpResponse.BodyHandlers.ofByteArray())
        check(response.statusCode() == 200) { "GET $path -> ${response.statusCode()}" }
        return response.body()
    }

    /** A project with a team, an enumerator and a supervisor, and both mission forms. */
    fun setupProject(suffix: String, formsDir: String, password: String): Map<String, String> {
        val project = number(call("POST", "/api/v1/projects", """{"name":"mission-$suffix"}"""), "id")
        val team = number(call("POST", "/api/v1/projects/$project/teams", """{"name":"kindia-$suffix"}"""), "id")
        val users = mutableMapOf<String, String>()
        for (role in listOf("enumerator", "supervisor")) {
            val name = "${role.take(3)}-$suffix"
            val user = call("POST", "/api/v1/users", """{"username":"$name","password":"$password","role":"$role"}""")
            call("POST", "/api/v1/teams/$team/members", """{"user_id":${number(user, "id")}}""")
            users[role] = name
            users["$role id"] = number(user, "id").toString()
        }
        val xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        for (form in listOf("guinea_needs.xlsx", "beguedo_slm.xlsx")) {
            call("POST", "/api/v1/projects/$project/forms", raw = Files.readAllBytes(Path.of(formsDir, form)),
                contentType = xlsx)
        }
        return users
    }

    companion object {
        fun field(json: String, name: String): String =
            Regex("\"$name\"\\s*:\\s*\"([^\"]*)\"").find(json)?.groupValues?.get(1) ?: error("no `$name` in $json")

        fun number(json: String, name: String): Long =
            Regex("\"$name\"\\s*:\\s*(-?\\d+)").find(json)?.groupValues?.get(1)?.toLong() ?: error("no `$name` in $json")
    }
}
