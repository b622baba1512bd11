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
    protected SimulatorHost Simulator { get; } = new();
    protected BrokerApplication Broker { get; private set; } = null!;
    protected string ApiKey { get; private set; } = "";
    protected string LinkToken { get; private set; } = "";
    protected Guid TenantId { get; private set; }
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Configuration a test class wants on top of the defaults.</summary>
    protected virtual Dictionary<string, string?> BrokerSettings => [];

    /// <summary>The broker's clock; tests move it to expire things.</summary>
    protected Microsoft.Extensions.Time.Testing.FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    public virtual async ValueTask InitializeAsync()
    {
        Broker = new BrokerApplication(await postgres.CreateDatabaseAsync(), Simulator, BrokerSettings, Time);
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
