using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using static TeslaSimulator.Tests.SimulatorApp;

namespace TeslaSimulator.Tests;

public sealed class PartnerTests
{
    private const string Domain = "broker.example.com";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StringContent Body(object o) => new(JsonSerializer.Serialize(o), Encoding.UTF8, "application/json");

    [Fact]
    public async Task PartnerRegistersTheP256KeyHostedByItsDomainAndThePublicKeyCheckReturnsIt()
    {
        await using var app = new SimulatorApp();
        var published = app.PublishKey(Domain);
        var partner = await app.PartnerAsync(ct: Ct);
        Assert.Equal(HttpStatusCode.NotFound, (await partner.GetAsync($"/api/1/partner_accounts/public_key?domain={Domain}", Ct)).StatusCode);

        var response = await RegisterAsync(partner, Domain, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var registered = (await Json(response, Ct))["response"]!;
        Assert.Equal(Domain, (string?)registered["domain"]);
        Assert.Equal(ClientId, (string?)registered["client_id"]);
        Assert.Equal(published, (string?)registered["public_key"]);
        Assert.Equal(130, published.Length); // 65-byte uncompressed point
        Assert.Matches("^[0-9a-f]{32}$", (string?)registered["public_key_hash"]);

        var key = await Json(await partner.GetAsync($"/api/1/partner_accounts/public_key?domain={Domain}", Ct), Ct);
        Assert.Equal(published, (string?)key["response"]!["public_key"]);
        // Registration is per region: the EU host has not heard of it.
        var eu = await app.PartnerAsync(Eu, Ct);
        Assert.Equal(HttpStatusCode.NotFound, (await eu.GetAsync($"/api/1/partner_accounts/public_key?domain={Domain}", Ct)).StatusCode);
    }

    [Fact]
    public async Task PartnerDomainsOptionPointsTheKeyDownloadAtAnotherBaseUrl()
    {
        await using var app = new SimulatorApp { Settings = { ["Simulator:PartnerDomains:broker.localhost"] = "http://127.0.0.1:5080/" } };
        var published = app.PublishKey("broker.localhost", "http://127.0.0.1:5080");
        var response = await RegisterAsync(await app.PartnerAsync(ct: Ct), "broker.localhost", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(published, (string?)(await Json(response, Ct))["response"]!["public_key"]);
    }

    [Theory]
    [InlineData("missing", "status 404")]
    [InlineData("garbage", "not a prime256v1 public key")]
    [InlineData("p384", "not a prime256v1 public key")]
    [InlineData("private", "not a prime256v1 public key")]
    [InlineData("rsa", "not a prime256v1 public key")]
    [InlineData("certificates", "too large")]
    public async Task RegistrationFailsWith424WhenTheDomainDoesNotHostAP256PublicKey(string hosted, string reason)
    {
        await using var app = new SimulatorApp();
        using var rsa = RSA.Create(2048);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string? body = hosted switch
        {
            "garbage" => "<html>Not here</html>",
            "p384" => p384.ExportSubjectPublicKeyInfoPem(),
            "private" => p256.ExportECPrivateKeyPem(),
            "rsa" => rsa.ExportSubjectPublicKeyInfoPem(),
            // A TLS certificate chain published by mistake: Tesla answers "too large".
            "certificates" => string.Concat(Enumerable.Repeat(new CertificateRequest("CN=broker.example.com", rsa, HashAlgorithmName.SHA256,
                RSASignaturePadding.Pkcs1).CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1)).ExportCertificatePem(), 2)),
            _ => null,
        };
        if (body is not null) app.Web[KeyUrl(Domain)] = body;
        var partner = await app.PartnerAsync(ct: Ct);

        var response = await RegisterAsync(partner, Domain, Ct);
        Assert.Equal((HttpStatusCode)424, response.StatusCode);
        var error = await Json(response, Ct);
        Assert.Equal($"Public key download failed for {KeyUrl(Domain)}, error: {reason}", (string?)error["error"]);
        Assert.NotNull(error["txid"]);
        Assert.Equal(HttpStatusCode.NotFound, (await partner.GetAsync($"/api/1/partner_accounts/public_key?domain={Domain}", Ct)).StatusCode);
    }

    [Theory]
    [InlineData("https://broker.example.com")]
    [InlineData("broker.example.com/keys")]
    [InlineData("broker.example.com:8443")]
    [InlineData("Broker.Example.com")]
    [InlineData("127.0.0.1")]
    public async Task RegistrationRejectsAnythingButABareLowercaseHostName(string domain)
    {
        await using var app = new SimulatorApp();
        var response = await RegisterAsync(await app.PartnerAsync(ct: Ct), domain, Ct);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.StartsWith($"Invalid domain: {domain}.", (string?)(await Json(response, Ct))["error"]);
    }

    [Fact]
    public async Task RegisteringAgainWithANewKeyReplacesTheKey()
    {
        await using var app = new SimulatorApp();
        var partner = await app.PartnerAsync(ct: Ct);
        app.PublishKey(Domain);
        var first = (await Json(await RegisterAsync(partner, Domain, Ct), Ct))["response"]!;
        app.Time.Advance(TimeSpan.FromHours(1));
        var rotated = app.PublishKey(Domain);
        var second = (await Json(await RegisterAsync(partner, Domain, Ct), Ct))["response"]!;

        Assert.Equal(rotated, (string?)second["public_key"]);
        Assert.Equal((string?)first["created_at"], (string?)second["created_at"]);
        Assert.NotEqual((string?)first["updated_at"], (string?)second["updated_at"]);
        var key = await Json(await partner.GetAsync($"/api/1/partner_accounts/public_key?domain={Domain}", Ct), Ct);
        Assert.Equal(rotated, (string?)key["response"]!["public_key"]);
    }

    [Fact]
    public async Task FleetStatusAndTelemetryConfigRoundTrip()
    {
        await using var app = new SimulatorApp();
        app.PublishKey(Domain);
        Assert.Equal(HttpStatusCode.OK, (await RegisterAsync(await app.PartnerAsync(ct: Ct), Domain, Ct)).StatusCode);
        var fleet = app.Fleet((string)(await app.TokensAsync(Alice, ct: Ct))["access_token"]!);
        var status = await Json(await fleet.PostAsync("/api/1/vehicles/fleet_status", Body(new { vins = new[] { AliceDriving } }), Ct), Ct);
        Assert.Equal(AliceDriving, (string?)status["response"]!["unpaired_vins"]![0]);

        // The legacy direct call (a CSR app) still needs the app's virtual key on the car.
        var config = new { vins = new[] { AliceDriving }, config = new { hostname = "telemetry.example.com", port = 443, fields = new { Soc = new { interval_seconds = 60 } } } };
        var skipped = await Json(await fleet.PostAsync("/api/1/vehicles/fleet_telemetry_config", Body(config), Ct), Ct);
        Assert.Equal(0, (int)skipped["response"]!["updated_vehicles"]!);
        Assert.Equal(AliceDriving, (string?)skipped["response"]!["skipped_vehicles"]!["missing_key"]![0]);
        Assert.Equal(HttpStatusCode.OK, (await app.Client().PostAsync($"/_sim/vehicles/{AliceDriving}/virtual-key", Body(new { domain = Domain, paired = true }), Ct)).StatusCode);

        var created = await Json(await fleet.PostAsync("/api/1/vehicles/fleet_telemetry_config", Body(config), Ct), Ct);
        Assert.Equal(1, (int)created["response"]!["updated_vehicles"]!);
        var got = await Json(await fleet.GetAsync($"/api/1/vehicles/{AliceDriving}/fleet_telemetry_config", Ct), Ct);
        Assert.Equal("telemetry.example.com", (string?)got["response"]!["config"]!["hostname"]);
        Assert.True((bool)got["response"]!["key_paired"]!);
        Assert.True((bool)got["response"]!["synced"]!); // the car is driving, so awake
        Assert.Equal(HttpStatusCode.OK, (await fleet.DeleteAsync($"/api/1/vehicles/{AliceDriving}/fleet_telemetry_config", Ct)).StatusCode);
        var gone = await Json(await fleet.GetAsync($"/api/1/vehicles/{AliceDriving}/fleet_telemetry_config", Ct), Ct);
        Assert.Null(gone["response"]!["config"]);
    }
}
