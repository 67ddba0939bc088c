// The app's HTTP client, as an Android app without OkHttp would write it: the platform's
// HttpURLConnection sends the store's requests. The phone library has no HTTP or TLS code
// of its own, so the app's stack (its trust store, proxy and power policy) carries them.
// Written for Android API 24 as well as the JVM: no InputStream.readNBytes (API 33).

import java.net.HttpURLConnection
import java.net.URI
import java.security.MessageDigest
import java.security.cert.CertificateException
import java.security.cert.X509Certificate
import java.util.concurrent.ConcurrentHashMap
import javax.net.ssl.HostnameVerifier
import javax.net.ssl.HttpsURLConnection
import javax.net.ssl.SSLContext
import javax.net.ssl.X509TrustManager
import uniffi.terrain_ffi.*

// A relay's certificate pinned by its SHA-256 (as the store passes it): checked during the
// handshake, so nothing is sent to another server. OkHttp's CertificatePinner pins public
// keys, not certificates, hence a TrustManager of our own.
object Pinning {
    private val contexts = ConcurrentHashMap<String, SSLContext>()
    private val factories = ConcurrentHashMap<String, javax.net.ssl.SSLSocketFactory>()

    private class PinnedTrust(private val pin: String) : X509TrustManager {
        override fun checkServerTrusted(chain: Array<X509Certificate>, authType: String) {
            val leaf = chain.firstOrNull() ?: throw CertificateException("the server sent no certificate")
            val seen = MessageDigest.getInstance("SHA-256").digest(leaf.encoded).joinToString("") { "%02x".format(it) }
            if (seen != pin.lowercase()) throw CertificateException("the server's certificate $seen is not the pinned $pin")
        }

        override fun checkClientTrusted(chain: Array<X509Certificate>, authType: String) =
            throw CertificateException("this client checks no client certificates")

        override fun getAcceptedIssuers(): Array<X509Certificate> = arrayOf()
    }

    // One context per pin, kept: its session cache lets the next connection resume.
    fun context(pin: String): SSLContext = contexts.getOrPut(pin) {
        SSLContext.getInstance("TLS").apply { init(null, arrayOf(PinnedTrust(pin)), null) }
    }

    // One factory per pin too: the JVM reuses a kept-alive connection only for the same
    // factory object.
    fun socketFactory(pin: String): javax.net.ssl.SSLSocketFactory = factories.getOrPut(pin) { context(pin).socketFactory }

    // The pin, not the name, says which server this is.
    val anyName = HostnameVerifier { _, _ -> true }
}

class PlatformHttp : HttpClient {
    override fun send(request: HttpRequest): HttpResponse {
        try {
            val connection = URI(request.url).toURL().openConnection() as HttpURLConnection
            request.pinnedCertificateSha256?.let { pin ->
                val https = connection as? HttpsURLConnection
                    ?: throw TerrainException.Network("a pinned certificate needs https://, not ${request.url}")
                https.sslSocketFactory = Pinning.socketFactory(pin)
                https.hostnameVerifier = Pinning.anyName
            }
            connection.requestMethod = request.method
            connection.connectTimeout = 20_000
            // Per read, not for the whole exchange: an app enforces timeoutMs as a deadline
            // (OkHttp's callTimeout); the relay answers or refuses well within it.
            connection.readTimeout = request.timeoutMs.coerceAtMost(Int.MAX_VALUE.toULong()).toInt()
            connection.instanceFollowRedirects = false
            for (header in request.headers) connection.setRequestProperty(header.name, header.value)
            if (request.body.isNotEmpty()) {
                connection.doOutput = true
                // Not setFixedLengthStreamingMode: in streaming mode the JVM's client drops a
                // 401's body (it cannot retry for authentication), and the body says why the
                // server refused (`device_revoked`). The body is in memory already.
                connection.outputStream.use { it.write(request.body) }
            }
            val status = connection.responseCode
            val stream = if (status >= 400) connection.errorStream else connection.inputStream
            val body = stream?.use { readAtMost(it, request.maxResponseBytes) } ?: ByteArray(0)
            val headers = connection.headerFields
                .filterKeys { it != null }
                .flatMap { (name, values) -> values.map { HttpHeader(name.lowercase(), it) } }
            // The stream was read to its end and closed, so the connection is kept for the
            // next request (no disconnect(): a new TLS handshake costs seconds over 2G).
            return HttpResponse(status.toUShort(), headers, body)
        } catch (e: TerrainException) {
            throw e
        } catch (e: Exception) {
            throw TerrainException.Network("could not reach the server: $e")
        }
    }

    // Reads one byte past the limit at most, so that the store sees the body is too long.
    private fun readAtMost(input: java.io.InputStream, limit: ULong): ByteArray {
        val out = java.io.ByteArrayOutputStream()
        val buffer = ByteArray(64 * 1024)
        var left = limit.coerceAtMost((Long.MAX_VALUE - 1).toULong()).toLong() + 1
        while (left > 0) {
            val n = input.read(buffer, 0, minOf(buffer.size.toLong(), left).toInt())
            if (n < 0) break
            out.write(buffer, 0, n)
            left -= n
        }
        return out.toByteArray()
    }
}
