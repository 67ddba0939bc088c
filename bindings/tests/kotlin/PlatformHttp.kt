// The app's HTTP client, as an Android app without OkHttp would write it: the JDK's
// HttpURLConnection sends the store's requests. The phone library has no HTTP or TLS code
// of its own, so the app's stack (its trust store, proxy and power policy) carries them.

import java.io.IOException
import java.net.HttpURLConnection
import java.net.URI
import uniffi.terrain_ffi.*

class PlatformHttp : HttpClient {
    override fun send(request: HttpRequest): HttpResponse {
        try {
            val connection = URI(request.url).toURL().openConnection() as HttpURLConnection
            try {
                connection.requestMethod = request.method
                connection.connectTimeout = 20_000
                connection.readTimeout = request.timeoutMs.coerceAtMost(Int.MAX_VALUE.toULong()).toInt()
                connection.instanceFollowRedirects = false
                for (header in request.headers) connection.setRequestProperty(header.name, header.value)
                if (request.body.isNotEmpty()) {
                    connection.doOutput = true
                    connection.setFixedLengthStreamingMode(request.body.size)
                    connection.outputStream.use { it.write(request.body) }
                }
                val status = connection.responseCode
                val stream = if (status >= 400) connection.errorStream else connection.inputStream
                // Read one byte past the limit at most: the store refuses a longer body.
                val limit = request.maxResponseBytes.coerceAtMost((Int.MAX_VALUE - 1).toULong()).toInt() + 1
                val body = stream?.use { input -> input.readNBytes(limit) } ?: ByteArray(0)
                val headers = connection.headerFields
                    .filterKeys { it != null }
                    .flatMap { (name, values) -> values.map { HttpHeader(name.lowercase(), it) } }
                return HttpResponse(status.toUShort(), headers, body)
            } finally {
                connection.disconnect()
            }
        } catch (e: IOException) {
            throw TerrainException.Network("could not reach the server: $e")
        }
    }
}
