using System.Net.Http.Json;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Tesla;

/// <summary>
/// Tesla disables an app over its billing limit with 403 "account disabled: EXCEEDED_LIMIT" and no Retry-After
/// (teslamotors/vehicle-command#403, the real body in Fixtures/TeslaReal), or unpaid with 402. It is app-wide: it once
/// counted as one device's "unauthorized", and every account kept calling, and being billed, every minute.
/// </summary>
public sealed class TeslaAppDisabledTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    // A partner domain, so the operator can register with Tesla (the app's other Fleet API calls).
    protected override Dictionary<string, string?> BrokerSettings => new() { ["Partner:Domain"] = "broker.test" };

    [Theory]
    [InlineData(403)]
    [InlineData(402)]
    public async Task ADisabledAppStopsEveryTenantsCallsProbesRarelyAndResumesWhenLifted(int status)
    {
        var (_, fleetKey, fleetLink) = await SeedTenantAsync("fleet", "The Fleet");
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(fleetLink, "bob@example.com", "bob-demo");
        await PollAccountsAsync();
        await SetRefusalAsync(status);
        await ResetSimCallsAsync();

        for (var minute = 0; minute < 29; minute++)
        {
            await PollAccountsAsync();
            Time.Advance(TimeSpan.FromMinutes(1));
        }

        // One refused call, for whichever account polled first; then silence for every tenant.
        Assert.Equal(1, (await SimCallsAsync()).Where(c => c.Category != "auth").Sum(c => c.Count));
        var operatorMetrics = await ScrapeMetricsAsync(BrokerApplication.OperatorToken);
        Assert.Contains("tesla_broker_tesla_app_disabled{realm=\"global\"} 1", operatorMetrics);
        Assert.Contains("tesla_broker_tesla_app_disabled_since_timestamp_seconds{realm=\"global\"}", operatorMetrics);
        await using (var db = Broker.CreateDbContext())
        {
            var disabled = await db.AuditEvents.SingleAsync(e => e.Action == "tesla.app_disabled", Ct);
            Assert.Contains($"status={status}", disabled.Detail);
        }

        Time.Advance(TimeSpan.FromMinutes(2));
        await PollAccountsAsync();
        Assert.Equal(2, (await SimCallsAsync()).Where(c => c.Category != "auth").Sum(c => c.Count)); // the probe, refused again: one call

        await SetRefusalAsync(null);
        Time.Advance(TimeSpan.FromMinutes(31));
        await PollAccountsAsync(); // the probe goes through: the app is back for everyone
        Time.Advance(TimeSpan.FromMinutes(2));
        await PollAccountsAsync();

        var calls = await SimCallsAsync();
        Assert.Contains(calls, c => c.Account == "alice@example.com" && c.Status == 200);
        Assert.Contains(calls, c => c.Account == "bob@example.com" && c.Status == 200);
        Assert.Contains("tesla_broker_tesla_app_disabled{realm=\"global\"} 0", await ScrapeMetricsAsync(BrokerApplication.OperatorToken));
        await using (var db = Broker.CreateDbContext())
        {
            Assert.Equal(1, await db.AuditEvents.CountAsync(e => e.Action == "tesla.app_disabled", Ct));
            Assert.Equal(1, await db.AuditEvents.CountAsync(e => e.Action == "tesla.app_enabled", Ct));
        }
        Assert.Equal(System.Net.HttpStatusCode.OK, (await ApiClient(fleetKey).GetAsync("/api/v1/accounts", Ct)).StatusCode);
    }

    /// <summary>Found by the outside test: a connect that Tesla answered did not lift the disabled state; polling waited for the probe.</summary>
    [Fact]
    public async Task AConnectThatTeslaAnswersLiftsTheDisabledApp()
    {
        await DisableTheAppThenStopRefusingAsync();

        await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo");

        await using var db = Broker.CreateDbContext();
        Assert.Null((await db.TeslaApps.SingleAsync(Ct)).DisabledSince);
        Assert.Equal(1, await db.AuditEvents.CountAsync(e => e.Action == "tesla.app_enabled", Ct));
    }

    [Fact]
    public async Task APartnerRegistrationTeslaAnswersLiftsTheDisabledAppInTeslasName()
    {
        await DisableTheAppThenStopRefusingAsync();
        Simulator.PartnerWeb = () => Broker.Server.CreateHandler();   // Tesla downloads the public key from the broker
        var operatorApi = ApiClient(BrokerApplication.OperatorToken);
        (await operatorApi.PostAsJsonAsync("/api/v1/partner/key", new { generate = true }, Ct)).EnsureSuccessStatusCode();

        (await operatorApi.PostAsJsonAsync("/api/v1/partner/registrations", new { region = "na" }, Ct)).EnsureSuccessStatusCode();

        await using var db = Broker.CreateDbContext();
        Assert.Null((await db.TeslaApps.SingleAsync(Ct)).DisabledSince);
        Assert.Equal("tesla", (await db.AuditEvents.SingleAsync(e => e.Action == "tesla.app_enabled", Ct)).Actor);
    }

    [Fact]
    public async Task TheRealBillingLimitBodyIsReadAsTheAppDisabledNotAsOneDevice()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await AddSimFaultAsync(new { path = "/api/1/vehicles", status = 403, body = RealTesla.Body("error_403_exceeded_limit_vc403.json") });

        await PollAccountsAsync();

        await using var db = Broker.CreateDbContext();
        var app = await db.TeslaApps.SingleAsync(Ct);
        Assert.Equal(("global", 403, "account disabled: EXCEEDED_LIMIT"), (app.Realm, app.Status, app.Error));
        Assert.NotNull(app.DisabledSince);
    }

    /// <summary>Alice connected, a poll meets Tesla's refusal of the app, then Tesla stops refusing: the broker does not know yet.</summary>
    private async Task DisableTheAppThenStopRefusingAsync()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await SetRefusalAsync(403);
        await PollAccountsAsync();
        await SetRefusalAsync(null);
    }

    private async Task SetRefusalAsync(int? status)
    {
        using var control = Simulator.CreateControlClient();
        (await control.PutAsJsonAsync("/_sim/app-refusal", new { status }, Ct)).EnsureSuccessStatusCode();
    }
}
