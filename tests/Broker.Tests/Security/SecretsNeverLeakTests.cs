using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Broker.Accounts;
using Broker.Partner;
using Broker.Tests.Infrastructure;
using Broker.Tests.People;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Broker.Tests.Security;

/// <summary>
/// A representative life of the product, with every log category at Debug: console sign-in (OIDC client secret),
/// partner key generated and imported, two connects, polls, Tesla errors, a refresh, a failing refresh, a lost
/// consent, revoke and reconnect. Then every secret involved (each code and token the simulator issued, both
/// client secrets, the vault key, the partner private keys) is searched for in the logs, every response the
/// broker served (pages, problems, API answers, /metrics) and a plain-text pg_dump of the database.
/// </summary>
public sealed class SecretsNeverLeakTests(PostgresServer postgres) : ConsoleTestBase(postgres)
{

    protected override Dictionary<string, string?> BrokerSettings => new(base.BrokerSettings)
    {
        ["Partner:Domain"] = "broker.test",
        // The most an operator would turn on to troubleshoot, framework categories included. Not Trace: .NET documents
        // that level as one that may contain sensitive data, never for production (the OIDC handler traces the callback query there).
        ["Logging:LogLevel:Default"] = "Debug",
        ["Logging:LogLevel:Microsoft"] = "Debug",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Debug",
        ["Logging:LogLevel:Microsoft.EntityFrameworkCore.Database.Command"] = "Debug",
        ["Logging:LogLevel:System.Net.Http"] = "Debug",
    };

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        Broker.Responses.Enabled = true;
        Simulator.PartnerWeb = () => Broker.Server.CreateHandler();
    }

    [Fact]
    public async Task NoSecretAppearsInLogsResponsesMetricsOrADatabaseDump()
    {
        var secrets = new List<(string What, string Value)>();
        await LiveALifeAsync(secrets);

        using (var control = Simulator.CreateControlClient())
        {
            var issued = await control.GetFromJsonAsync<IssuedList>("/_sim/issued", Ct);
            Assert.True(issued!.Secrets.Count(s => s.Kind == "code") >= 3, "the life should have issued at least three codes");
            Assert.Contains(issued.Secrets, s => s.Kind == "refresh_token");
            foreach (var s in issued.Secrets)
            {
                AddToken(secrets, s.Kind, s.Value);
            }
        }
        secrets.Add(("Tesla client secret", SimulatorHost.ClientSecret));
        secrets.Add(("console OIDC client secret", OidcProviderHost.ClientSecret));
        var vaultKey = Convert.FromBase64String(BrokerApplication.VaultKey);
        secrets.Add(("vault key (base64)", BrokerApplication.VaultKey));
        secrets.Add(("vault key (base64url)", Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(vaultKey)));
        secrets.Add(("vault key (hex)", Convert.ToHexStringLower(vaultKey)));

        var places = new List<(string Where, string Text)> { ("broker logs", Broker.Logs.All) };
        places.AddRange(Broker.Responses.Responses.Select(r => ($"response {r.Status} to {r.Method} {r.PathAndQuery}", r.Headers + "\n" + r.Body)));
        places.Add(("pg_dump", await PostgresServer.PlainDumpAsync(Broker.ConnectionString, Ct)));
        Assert.Contains(Broker.Responses.Responses, r => r.PathAndQuery == "/metrics" && r.Body.Contains("tesla_vehicle_battery_level_percent"));
        Assert.Contains(Broker.Responses.Responses, r => r.ContentType?.StartsWith("application/problem+json") == true);
        Assert.Contains(Broker.Responses.Responses, r => r.ContentType?.StartsWith("text/html") == true && r.PathAndQuery.StartsWith("/connect/result"));

        var found = (from s in secrets
                     from p in places
                     where p.Text.Contains(s.Value, StringComparison.OrdinalIgnoreCase)
                     select $"{s.What} ({s.Value[..Math.Min(12, s.Value.Length)]}…) in {p.Where}: …{Around(p.Text, s.Value)}…").Distinct().ToList();
        Assert.True(found.Count == 0, $"{found.Count} secret occurrence(s) out of {secrets.Count} secrets searched in {places.Count} places:\n{string.Join('\n', found.Take(50))}");
    }

    private async Task LiveALifeAsync(List<(string What, string Value)> secrets)
    {
        var op = await new ConsolePerson(Broker).SignInAsync(Provider, "operator@example.com", "operator-demo");
        AssertStatus(HttpStatusCode.Redirect, await op.PostFormAsync("/console/operator/partner/key"));
        AssertStatus(HttpStatusCode.Redirect, await op.PostFormAsync("/console/operator/partner/registrations", KeyValuePair.Create("region", "na")));
        await AddPartnerKeyAsync(secrets, "generated partner private key");
        using var imported = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var operatorApi = ApiClient(BrokerApplication.OperatorToken);
        AssertStatus(HttpStatusCode.OK, await operatorApi.PostAsJsonAsync("/api/v1/partner/key", new { privateKeyPem = imported.ExportECPrivateKeyPem(), replace = true }, Ct));
        AssertStatus(HttpStatusCode.BadRequest, await operatorApi.PostAsJsonAsync("/api/v1/partner/key", new { privateKeyPem = imported.ExportPkcs8PrivateKeyPem()[..120], replace = true }, Ct));
        await AddPartnerKeyAsync(secrets, "imported partner private key");
        AssertStatus(HttpStatusCode.Redirect, await op.PostFormAsync("/console/operator/partner/registrations", KeyValuePair.Create("region", "na")));

        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo", ["openid", "offline_access", "vehicle_device_data"]);
        var accounts = await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts");
        var alice = accounts.Single(a => a.Email == "alice@example.com").Id;
        var bob = accounts.Single(a => a.Email == "bob@example.com").Id;
        await PollAccountsAsync();
        Time.Advance(TimeSpan.FromMinutes(5));
        await PollAccountsAsync();

        // Tesla misbehaving: rate limits, outages, garbage, an access token it no longer accepts.
        await AddSimFaultAsync(new { path = "/api/1/vehicles", status = 429, retryAfterSeconds = 30, count = 2 });
        await AddSimFaultAsync(new { path = "/api/1/energy_sites", status = 503, count = 1 });
        Time.Advance(TimeSpan.FromMinutes(5));
        await PollAccountsAsync();
        await AddSimFaultAsync(new { path = "/api/1/vehicles", status = 200, body = "malformed", count = 2 });
        Time.Advance(TimeSpan.FromMinutes(5));
        await PollAccountsAsync();
        await AddSimFaultAsync(new { path = "/api/1/vehicles", status = 401, count = 1 });
        Time.Advance(TimeSpan.FromMinutes(5));
        await PollAccountsAsync();

        // A refresh near expiry, then one Tesla fails (transient), then one it refuses (consent withdrawn).
        Time.Advance(TimeSpan.FromHours(8));
        await PollAccountsAsync();
        await AddSimFaultAsync(new { path = "/oauth2/v3/token", status = 500, count = 3 });
        Time.Advance(TimeSpan.FromHours(8));
        await PollAccountsAsync();
        await AddSimFaultAsync(new { path = "/oauth2/v3/token", status = 502, afterCommit = true, count = 1 });
        Time.Advance(TimeSpan.FromMinutes(10));
        await PollAccountsAsync();
        using (var control = Simulator.CreateControlClient())
        {
            (await control.PostAsync("/_sim/accounts/bob@example.com/revoke-consent", null, Ct)).EnsureSuccessStatusCode();
        }
        Time.Advance(TimeSpan.FromHours(8));
        await PollAccountsAsync();
        Assert.Equal("needs_reconnect", (await GetJsonAsync<AccountResponse>(ApiKey, $"/api/v1/accounts/{bob}")).Status);

        // Revoke, then reconnect through a reconnect link.
        AssertStatus(HttpStatusCode.OK, await ApiClient(ApiKey).PostAsync($"/api/v1/accounts/{alice}/revoke", null, Ct));
        var link = await (await ApiClient(ApiKey).PostAsync($"/api/v1/accounts/{alice}/reconnect-links", null, Ct)).Content.ReadFromJsonAsync<ReconnectLinkResponse>(Ct);
        await NewUser().ConnectAsync(link!.Url[(link.Url.LastIndexOf('/') + 1)..], "alice@example.com", "alice-demo");
        await PollAccountsAsync();

        // What people and scrapers are shown afterwards, problems included (the first console session has expired by now).
        op = await new ConsolePerson(Broker).SignInAsync(Provider, "operator@example.com", "operator-demo");
        foreach (var page in new[] { "/console", "/console/tenants/household", $"/console/tenants/household/accounts/{alice}", $"/console/tenants/household/accounts/{bob}", "/console/audit", "/console/operator" })
        {
            AssertStatus(HttpStatusCode.OK, await op.Browser.GetAsync(page, Ct));
        }
        await ScrapeMetricsAsync(BrokerApplication.OperatorToken);
        await ScrapeMetricsAsync(ApiKey);
        await ApiClient(ApiKey).GetAsync($"/api/v1/accounts/{Guid.NewGuid()}", Ct);
        await ApiClient(ApiKey).PostAsync("/api/v1/connect-links", new StringContent("{\"label\":", System.Text.Encoding.UTF8, "application/json"), Ct);
        await ApiClient("brk_not-a-key").GetAsync("/api/v1/accounts", Ct);
        await ApiClient(ApiKey).GetAsync("/api/v1/audit", Ct);
        await Broker.CreateBrowser().GetAsync("/connect/callback?code=NA_forged&state=forged", Ct);
        await Broker.CreateBrowser().GetAsync("/connect/result?r=forged", Ct);
    }

    private async Task AddPartnerKeyAsync(List<(string What, string Value)> secrets, string what)
    {
        await using var scope = Broker.Services.CreateAsyncScope();
        using var key = (await scope.ServiceProvider.GetRequiredService<PartnerKeys>().LoadPrivateKeyAsync(Ct))!;
        var d = key.ExportParameters(includePrivateParameters: true).D!;
        secrets.Add(($"{what} (PKCS#8 base64)", PemBody(key.ExportPkcs8PrivateKeyPem())));
        secrets.Add(($"{what} (SEC1 base64)", PemBody(key.ExportECPrivateKeyPem())));
        secrets.Add(($"{what} (d, hex)", Convert.ToHexStringLower(d)));
        secrets.Add(($"{what} (d, base64)", Convert.ToBase64String(d)));
        secrets.Add(($"{what} (d, base64url)", Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(d)));
    }

    /// <summary>The whole token, and the parts that identify it on their own (a JWT's claims and signature; an opaque token's random tail).</summary>
    private static void AddToken(List<(string What, string Value)> secrets, string kind, string value)
    {
        secrets.Add((kind, value));
        var parts = value.Split('.');
        if (parts.Length == 3)
        {
            secrets.Add(($"{kind} claims part", parts[1]));
            secrets.Add(($"{kind} signature part", parts[2]));
        }
        else if (value.IndexOf('_') is > 0 and var i)
        {
            secrets.Add(($"{kind} random part", value[(i + 1)..]));
        }
    }

    /// <summary>The text around an occurrence, the secret itself masked, so the failure says which line leaked it.</summary>
    private static string Around(string text, string secret)
    {
        var at = text.IndexOf(secret, StringComparison.OrdinalIgnoreCase);
        var from = Math.Max(0, at - 120);
        return text[from..Math.Min(text.Length, at + secret.Length + 60)].Replace(secret, "<secret>", StringComparison.OrdinalIgnoreCase).ReplaceLineEndings(" ");
    }

    private static string PemBody(string pem) =>
        string.Concat(pem.Split('\n').Where(l => !l.StartsWith("-----")).Select(l => l.Trim()));

    private void AssertStatus(HttpStatusCode expected, HttpResponseMessage response) =>
        Assert.True(response.StatusCode == expected,
            $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: expected {expected}, got {response.StatusCode}: {response.Content.ReadAsStringAsync().Result}");

    private sealed record IssuedList(List<IssuedSecret> Secrets);
    private sealed record IssuedSecret(string Kind, string Value);
}
