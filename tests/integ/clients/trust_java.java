// trust_java.java — one POST with Java's own HTTP clients (JSSE), for test_trust.py
// and test_compat.py. Run as a single source file: java trust_java.java KIND URL CA BODY
//   KIND  h1 | h2 (java.net.http.HttpClient, HTTP/1.1 or HTTP/2) | urlconnection (HttpsURLConnection)
//   CA    PEM file of the CA to trust (the test PKI); "-" for the JDK's default trust store
// Prints the status on the first line, then the body; exits 1 with the exception on stderr.
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class trust_java {
    static SSLContext context(String ca) throws Exception {
        if (ca.equals("-"))
            return SSLContext.getDefault();
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        try (InputStream in = new FileInputStream(ca)) {
            ks.setCertificateEntry("test-ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    public static void main(String[] a) throws Exception {
        String kind = a[0], url = a[1], body = a[3];
        SSLContext ctx = context(a[2]);
        int status;
        String text;
        try {
            if (kind.equals("urlconnection")) {
                HttpsURLConnection.setDefaultSSLSocketFactory(ctx.getSocketFactory());
                HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
                c.setRequestMethod("POST");
                c.setDoOutput(true);
                c.setRequestProperty("Content-Type", "application/json");
                c.setRequestProperty("Authorization", "Bearer sk-test-openai-SECRET-0123456789");
                try (OutputStream o = c.getOutputStream()) {
                    o.write(body.getBytes(StandardCharsets.UTF_8));
                }
                status = c.getResponseCode();
                text = new String(c.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } else {
                HttpClient hc = HttpClient.newBuilder().sslContext(ctx)
                        .version(kind.equals("h2") ? HttpClient.Version.HTTP_2 : HttpClient.Version.HTTP_1_1).build();
                HttpRequest rq = HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                        .header("Authorization", "Bearer sk-test-openai-SECRET-0123456789")
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
                HttpResponse<String> r = hc.send(rq, HttpResponse.BodyHandlers.ofString());
                status = r.statusCode();
                text = r.body();
            }
        } catch (Exception e) {
            System.err.println("java-error " + e);
            System.exit(1);
            return;
        }
        System.out.println(status);
        System.out.println(text);
    }
}
