using System.Net.Http.Headers;
using System.Net.Http.Json;
using Broker.Tenants;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// One fresh database, one simulator and one broker per test. Seeds a tenant with an API key and
/// a connect link, the way an operator would.
/// </summary>
public abstract class BrokerTestBase(PostgresServer postgres) : IAsyncLifetime
{
    protected SimulatorHost Simulator => _simulator ??= new SimulatorHost
    {
        Clock = ShareClockWithSimulator ? Time : null, SeedFile = SimulatorSeedFile, Overrides = SimulatorSettings,
    };
    private SimulatorHost? _simulator;

    /// <summary>True where the simulated cars must live on the test's clock too (sleep, charging over hours).</summary>
    protected virtual bool ShareClockWithSimulator => false;

    /// <summary>A seed file of the test's own instead of the demo fleet.</summary>
    protected virtual string? SimulatorSeedFile => null;
    protected BrokerApplication Broker { get; private set; } = null!;
    protected string ApiKey { get; private set; } = "";
    protected string LinkToken { get; private set; } = "";
    protected Guid TenantId { get; private set; }
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Configuration a test class wants on top of the defaults.</summary>
    protected virtual Dictionary<string, string?> BrokerSettings => [];

    /// <summary>Simulator configuration on top of its defaults (e.g. short-lived access tokens).</summary>
    protected virtual Dictionary<string, string?> SimulatorSettings => [];

    /// <summary>The test's database; by default a fresh one on the shared server.</summary>
    protected virtual Task<string> CreateDatabaseAsync() => postgres.CreateDatabaseAsync();

    /// <summary>False for tests that run the real Quartz scheduler, which must see time pass.</summary>
    protected virtual bool UseFakeTime => true;

    /// <summary>The broker's clock; tests move it to expire things.</summary>
    protected Microsoft.Extensions.Time.Testing.FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    public virtual async ValueTask InitializeAsync()
    {
        Broker = new BrokerApplication(await CreateDatabaseAsync(), Simulator, BrokerSettings, UseFakeTime ? Time : null);
        (TenantId, ApiKey, LinkToken) = await SeedTenantAsync("household", "The Household");
    }

    protected async Task<(Guid TenantId, string ApiKey, string LinkToken)> SeedTenantAsync(string slug, string name)
    {
        await using var scope = Broker.Services.CreateAsyncScope();
        var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
        var tenant = await provisioning.EnsureTenantAsync(slug, name, Ct);
        var key = await provisioning.AddApiKeyAsync(tenant.Id, "test", Ct);
        var (_, token) = await provisioning.AddConnectLinkAsync(tenant.Id, "test", Ct);
        return (tenant.Id, key, token);
    }

    protected TeslaUser NewUser() => new(Broker, Simulator);

    protected PostgresServer Postgres => postgres;

    /// <summary>
    /// The operator generates the partner key and registers it in every region (Tesla downloads the public key from the broker,
    /// as from https://&lt;Partner:Domain&gt;/.well-known/…); NA must end registered.
    /// </summary>
    protected async Task RegisterPartnerAsync()
    {
        Simulator.PartnerWeb = () => Broker.Server.CreateHandler();
        var operatorApi = ApiClient(BrokerApplication.OperatorToken);
        (await operatorApi.PostAsJsonAsync("/api/v1/partner/key", new { generate = true }, Ct)).EnsureSuccessStatusCode();
        var registrations = await (await operatorApi.PostAsJsonAsync("/api/v1/partner/registrations", new { region = "all" }, Ct))
            .Content.ReadFromJsonAsync<List<global::Broker.Partner.PartnerRegistrationResponse>>(Ct);
        Assert.Equal("registered", registrations!.Single(r => r.Region == "na").Status);
    }

    /// <summary>The owner adds (or removes) the partner key of <paramref name="domain"/> on the car: tesla.com/_ak, played by the simulator.</summary>
    protected async Task PairVirtualKeyAsync(string vin, string domain, bool paired = true)
    {
        using var control = Simulator.CreateControlClient();
        (await control.PostAsJsonAsync($"/_sim/vehicles/{vin}/virtual-key", new { domain, paired }, Ct)).EnsureSuccessStatusCode();
    }

    /// <summary>The simulator's call ledger: (category, status) → calls, optionally for one account.</summary>
    protected async Task<List<SimCall>> SimCallsAsync(string? account = null)
    {
        using var control = Simulator.CreateControlClient();
        var ledger = await control.GetFromJsonAsync<SimLedger>("/_sim/calls" + (account is null ? "" : $"?account={account}"), Ct);
        return ledger!.Calls;
    }

    protected async Task ResetSimCallsAsync()
    {
        using var control = Simulator.CreateControlClient();
        (await control.DeleteAsync("/_sim/calls", Ct)).EnsureSuccessStatusCode();
    }

    /// <summary>What the realm's auth server puts in id_tokens from now on (normal, absent, other-issuer, no-nonce, …).</summary>
    protected async Task SetIdTokenModeAsync(string realm, string mode)
    {
        using var control = Simulator.CreateControlClient();
        (await control.PutAsync($"/_sim/realms/{realm}/id-token?mode={mode}", null, Ct)).EnsureSuccessStatusCode();
    }

    protected async Task AddSimFaultAsync(object fault)
    {
        using var control = Simulator.CreateControlClient();
        (await control.PostAsJsonAsync("/_sim/faults", fault, Ct)).EnsureSuccessStatusCode();
    }

    protected async Task PollAccountsAsync(BrokerApplication? app = null)
    {
        app ??= Broker;
        await using var db = app.CreateDbContext();
        foreach (var id in db.TeslaAccounts.Select(a => a.Id).ToList())
        {
            await using var scope = app.Services.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<global::Broker.Polling.AccountPoller>().PollAsync(id, null, Ct);
        }
    }

    /// <summary>GET /metrics with a bearer token (tenant API key or <see cref="BrokerApplication.OperatorToken"/>).</summary>
    protected async Task<string> ScrapeMetricsAsync(string token)
    {
        var client = Broker.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await client.GetAsync("/metrics", Ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync(Ct);
    }

    public sealed record SimLedger(List<SimCall> Calls);
    /// <summary>One row of the ledger; <paramref name="Host"/> is the simulator origin the call reached (auth or Fleet, global or China).</summary>
    public sealed record SimCall(string Account, string Device, string Category, int Status, long Count, string Host = "");

    protected HttpClient ApiClient(string apiKey)
    {
        var client = Broker.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return client;
    }

    protected async Task<T> GetJsonAsync<T>(string apiKey, string path) =>
        (await ApiClient(apiKey).GetFromJsonAsync<T>(path, Ct))!;

    public virtual async ValueTask DisposeAsync()
    {
        await Broker.DisposeAsync();
        await Simulator.DisposeAsync();
    }
}
