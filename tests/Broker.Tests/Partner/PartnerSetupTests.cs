using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Broker.Partner;
using Broker.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Partner;

/// <summary>
/// The operator's partner set-up through the real pipeline: key, the well-known URL, registration at the
/// simulator, which downloads the key from the broker's in-memory server the way Tesla downloads it from the domain.
/// </summary>
public sealed class PartnerSetupTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string Domain = "broker.test";
    private const string WellKnown = "/.well-known/appspecific/com.tesla.3p.public-key.pem";

    protected override Dictionary<string, string?> BrokerSettings => new() { ["Partner:Domain"] = Domain };

    [Fact]
    public async Task GeneratedKeyIsServedAtTheWellKnownUrlAndRegisteredInNaAndEu()
    {
        Simulator.PartnerWeb = () => Broker.Server.CreateHandler();
        var operatorApi = OperatorClient();

        var key = await ReadAsync<PartnerKeyResponse>(await operatorApi.PostAsync("/api/v1/partner/key", null, Ct));
        Assert.Equal("generated", key.Origin);
        Assert.Matches("^04[0-9a-f]{128}$", key.PublicKeyHex);

        var served = await Broker.CreateClient().GetAsync(WellKnown, Ct);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal("application/x-pem-file", served.Content.Headers.ContentType?.MediaType);
        var pem = await served.Content.ReadAsStringAsync(Ct);
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----", pem);
        Assert.Equal(key.PublicKeyHex, HexOf(pem));

        foreach (var region in new[] { "na", "eu" })
        {
            var result = await ReadAsync<List<PartnerRegistrationResponse>>(
                await operatorApi.PostAsJsonAsync("/api/v1/partner/registrations", new { region }, Ct));
            var registration = Assert.Single(result);
            Assert.Equal((region, "registered", null), (registration.Region, registration.Status, registration.Error));
        }

        var status = await operatorApi.GetFromJsonAsync<PartnerStatusResponse>("/api/v1/partner", Ct);
        Assert.Equal(key.PublicKeyHex, status!.Key!.PublicKeyHex);
        Assert.Equal($"https://tesla.com/_ak/{Domain}", status.PairingUrl);
        Assert.Equal([("eu", true), ("na", true)], status.Registrations.Select(r => (r.Region, r.MatchesCurrentKey)));
        await using var db = Broker.CreateDbContext();
        Assert.All(await db.PartnerRegistrations.ToListAsync(Ct), r => Assert.Equal(key.PublicKeyHex, r.PublicKeyHex));
        Assert.Equal(["partner.key_generated", "partner.registered", "partner.registered"],
            await db.AuditEvents.OrderBy(e => e.Id).Select(e => e.Action).ToListAsync(Ct));
        Assert.DoesNotContain("PRIVATE KEY", Broker.Logs.All);
    }

    [Fact]
    public async Task RegistrationInChinaUsesTheChinaAppAtChinasTokenEndpoint()
    {
        Simulator.PartnerWeb = () => Broker.Server.CreateHandler();
        var operatorApi = OperatorClient();
        await operatorApi.PostAsync("/api/v1/partner/key", null, Ct);
        await ResetSimCallsAsync();

        var result = await ReadAsync<List<PartnerRegistrationResponse>>(
            await operatorApi.PostAsJsonAsync("/api/v1/partner/registrations", new { region = "cn" }, Ct));

        var registration = Assert.Single(result);
        Assert.Equal(("cn", "registered", null), (registration.Region, registration.Status, registration.Error));
        using var control = Simulator.CreateControlClient();
        var state = await control.GetFromJsonAsync<System.Text.Json.JsonElement>("/_sim/state", Ct);
        var row = Assert.Single(state.GetProperty("partnerRegistrations").EnumerateArray());
        Assert.Equal((SimulatorHost.CnClientId, "cn"), (row.GetProperty("clientId").GetString(), row.GetProperty("region").GetString()));
        var auth = (await SimCallsAsync()).Where(c => c.Category == "auth").ToList();
        Assert.Equal([new Uri(SimulatorHost.CnAuthBase).Authority], auth.Select(c => c.Host).Distinct());
    }

    [Fact]
    public async Task ImportedKeyBecomesCurrentRetiresTheOldOneAndItsPrivateHalfStillSigns()
    {
        var operatorApi = OperatorClient();
        var generated = await ReadAsync<PartnerKeyResponse>(await operatorApi.PostAsync("/api/v1/partner/key", null, Ct));
        using var mine = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var imported = await ReadAsync<PartnerKeyResponse>(
            await operatorApi.PostAsJsonAsync("/api/v1/partner/key", new { privateKeyPem = mine.ExportECPrivateKeyPem() }, Ct));

        Assert.Equal("imported", imported.Origin);
        Assert.Equal(HexOf(mine.ExportSubjectPublicKeyInfoPem()), imported.PublicKeyHex);
        Assert.Equal(imported.PublicKeyHex, HexOf(await Broker.CreateClient().GetStringAsync(WellKnown, Ct)));
        await using var db = Broker.CreateDbContext();
        Assert.NotNull((await db.PartnerKeys.SingleAsync(k => k.Id == generated.Id, Ct)).RetiredAt);
        var stored = await db.PartnerKeys.SingleAsync(k => k.Id == imported.Id, Ct);
        Assert.DoesNotContain("PRIVATE", System.Text.Encoding.UTF8.GetString(stored.PrivateKeyCipher));

        await using var scope = Broker.Services.CreateAsyncScope();
        using var loaded = await scope.ServiceProvider.GetRequiredService<PartnerKeys>().LoadPrivateKeyAsync(Ct);
        var signature = loaded!.SignData("hello"u8, HashAlgorithmName.SHA256);
        Assert.True(mine.VerifyData("hello"u8, signature, HashAlgorithmName.SHA256));
    }

    [Fact]
    public async Task Pkcs8P256KeyIsAccepted()
    {
        using var mine = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var imported = await ReadAsync<PartnerKeyResponse>(
            await OperatorClient().PostAsJsonAsync("/api/v1/partner/key", new { privateKeyPem = mine.ExportPkcs8PrivateKeyPem() }, Ct));
        Assert.Equal(HexOf(mine.ExportSubjectPublicKeyInfoPem()), imported.PublicKeyHex);
    }

    [Fact]
    public async Task KeysOnOtherCurvesOrAlgorithmsAreRefusedWithTheReason()
    {
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var rsa = RSA.Create(2048);
        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        foreach (var (pem, expected) in new[]
        {
            (p384.ExportECPrivateKeyPem(), "prime256v1"),
            (p384.ExportPkcs8PrivateKeyPem(), "prime256v1"),
            (rsa.ExportPkcs8PrivateKeyPem(), "prime256v1"),
            (rsa.ExportRSAPrivateKeyPem(), "RSA"),
            (p256.ExportSubjectPublicKeyInfoPem(), "public key"),
            ("not a key", "PEM"),
        })
        {
            var response = await OperatorClient().PostAsJsonAsync("/api/v1/partner/key", new { privateKeyPem = pem }, Ct);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var problem = await response.Content.ReadFromJsonAsync<ProblemDetails>(Ct);
            Assert.Contains(expected, problem!.Detail);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await Broker.CreateClient().GetAsync(WellKnown, Ct)).StatusCode);
        await using var db = Broker.CreateDbContext();
        Assert.False(await db.PartnerKeys.AnyAsync(Ct));
    }

    [Fact]
    public async Task RegistrationWithTheKeyUnreachableIsAFailedRowThatSaysWhereTheKeyMustBe()
    {
        // PartnerWeb left unset: the simulator's download of https://broker.test/.well-known/… answers 404, Tesla answers 424.
        var operatorApi = OperatorClient();
        await operatorApi.PostAsync("/api/v1/partner/key", null, Ct);

        var result = await ReadAsync<List<PartnerRegistrationResponse>>(
            await operatorApi.PostAsJsonAsync("/api/v1/partner/registrations", new { region = "na" }, Ct));

        var registration = Assert.Single(result);
        Assert.Equal("failed", registration.Status);
        Assert.Contains($"https://{Domain}{WellKnown}", registration.Error);
        Assert.Contains("Public key download failed", registration.Error);
        await using var db = Broker.CreateDbContext();
        Assert.Equal("failed", (await db.PartnerRegistrations.SingleAsync(Ct)).Status);
        Assert.Equal("partner.registration_failed", (await db.AuditEvents.OrderBy(e => e.Id).LastAsync(Ct)).Action);
    }

    [Fact]
    public async Task RegistrationWithoutAKeyOrADomainOrInAnUnknownRegionIsAProblem()
    {
        var noKey = await OperatorClient().PostAsync("/api/v1/partner/registrations", null, Ct);
        Assert.Equal(HttpStatusCode.Conflict, noKey.StatusCode);
        Assert.Contains("Generate or import a key", (await noKey.Content.ReadFromJsonAsync<ProblemDetails>(Ct))!.Detail);

        await OperatorClient().PostAsync("/api/v1/partner/key", null, Ct);
        var unknown = await OperatorClient().PostAsJsonAsync("/api/v1/partner/registrations", new { region = "mars" }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);

        await using var withoutDomain = new BrokerApplication(Broker.ConnectionString, Simulator, new() { ["Partner:Domain"] = "" });
        var client = withoutDomain.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BrokerApplication.OperatorToken);
        var noDomain = await client.PostAsync("/api/v1/partner/registrations", null, Ct);
        Assert.Equal(HttpStatusCode.Conflict, noDomain.StatusCode);
        Assert.Contains("Partner:Domain", (await noDomain.Content.ReadFromJsonAsync<ProblemDetails>(Ct))!.Detail);
        Assert.Null((await client.GetFromJsonAsync<PartnerStatusResponse>("/api/v1/partner", Ct))!.PairingUrl);
    }

    [Fact]
    public async Task OnlyTheOperatorMaySeeOrChangeThePartnerSetUp()
    {
        var anonymous = Broker.CreateClient();
        var tenant = ApiClient(ApiKey);
        foreach (var (method, path) in new[] { ("GET", "/api/v1/partner"), ("POST", "/api/v1/partner/key"), ("POST", "/api/v1/partner/registrations") })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Ct)).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await tenant.SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Ct)).StatusCode);
        }
        await using var db = Broker.CreateDbContext();
        Assert.False(await db.PartnerKeys.AnyAsync(Ct));
    }

    private HttpClient OperatorClient() => ApiClient(BrokerApplication.OperatorToken);

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response)
    {
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(Ct)}");
        return (await response.Content.ReadFromJsonAsync<T>(Ct))!;
    }

    /// <summary>The uncompressed point ("04…") of a PEM public key, computed here independently of the broker.</summary>
    private static string HexOf(string publicKeyPem)
    {
        using var key = ECDsa.Create();
        key.ImportFromPem(publicKeyPem);
        var q = key.ExportParameters(false).Q;
        return "04" + Convert.ToHexStringLower(q.X!) + Convert.ToHexStringLower(q.Y!);
    }
}
