extern alias simulator;

using System.Net.Http.Json;
using System.Security.Cryptography;
using Broker.Data;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FleetDay;

/// <summary>
/// One copy of the Tesla simulator on the shared fake clock. Each poller gets its own copy, because
/// polling changes the fleet (vehicle_data keeps a car awake): the two worlds start the same, get the
/// same script, and diverge only through what their poller does. <paramref name="extra"/>: more simulator settings (the
/// streaming world's MQTT broker).
/// </summary>
public sealed class SimWorld(TimeProvider time, IReadOnlyDictionary<string, string?>? extra = null) : WebApplicationFactory<simulator::TeslaSimulator.SimulatorMarker>
{
    public const string AuthBase = "http://tesla-auth.test";
    public const string NaBase = "http://fleet-na.test";
    public const string EuBase = "http://fleet-eu.test";
    public const string BrokerClient = "broker-bench";
    public const string ExporterClient = "naive-exporter";
    public const string Secret = "bench-secret";

    /// <summary>Where Tesla downloads a partner's public key from (the broker's in-memory server); unset, every download is a 404.</summary>
    public Func<HttpMessageHandler>? PartnerWeb { get; set; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Bench");
        var settings = new Dictionary<string, string?>
        {
            ["Simulator:AuthBaseUrl"] = AuthBase,
            ["Simulator:Regions:na"] = NaBase,
            ["Simulator:Regions:eu"] = EuBase,
            ["Simulator:Clients:0:ClientId"] = BrokerClient,
            ["Simulator:Clients:0:ClientSecret"] = Secret,
            ["Simulator:Clients:0:RedirectUris:0"] = "http://localhost/connect/callback",
            ["Simulator:Clients:1:ClientId"] = ExporterClient,
            ["Simulator:Clients:1:ClientSecret"] = Secret,
            ["Simulator:Clients:1:RedirectUris:0"] = "http://localhost/exporter/callback",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in settings.Concat(extra ?? new Dictionary<string, string?>()))
        {
            builder.UseSetting(k, v);
        }
        builder.ConfigureTestServices(s =>
        {
            s.AddSingleton(time);
            s.AddHttpClient(simulator::TeslaSimulator.SimulatorMarker.PartnerKeyDownloadClient)
                .ConfigurePrimaryHttpMessageHandler(() => PartnerWeb?.Invoke() ?? new NotFoundHandler());
        });
    }

    private sealed class NotFoundHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct) =>
            Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.NotFound));
    }

    public HttpClient Client(string baseUrl = AuthBase) =>
        CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri(baseUrl), AllowAutoRedirect = false });

    public async Task SetStateAsync(string vin, string state) =>
        (await Client().PostAsJsonAsync($"/_sim/vehicles/{vin}/state", new { state })).EnsureSuccessStatusCode();

    public async Task<Dictionary<string, string>> ModesAsync()
    {
        var state = await Client().GetFromJsonAsync<SimState>("/_sim/state");
        return state!.Vehicles.ToDictionary(v => v.Vin, v => v.Mode);
    }

    public async Task<Ledger> CallsAsync() => (await Client().GetFromJsonAsync<Ledger>("/_sim/calls"))!;

    public async Task ResetCallsAsync() => (await Client().DeleteAsync("/_sim/calls")).EnsureSuccessStatusCode();

    public sealed record SimState(List<SimVehicleView> Vehicles);
    public sealed record SimVehicleView(string Vin, string Mode);
    public sealed record Ledger(List<LedgerRow> Calls);
    public sealed record LedgerRow(string Account, string Device, string Category, int Status, long Count, bool Billable, decimal Cost);
}

/// <summary>
/// The broker on its own database, its Tesla clients wired to one simulator in memory. No Quartz: the bench fires polls.
/// <paramref name="extra"/>: more broker settings (streaming: Telemetry, Partner, Operator).
/// </summary>
public sealed class BrokerWorld(string connectionString, SimWorld simulator, TimeProvider time, IReadOnlyDictionary<string, string?>? extra = null)
    : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Bench");
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Broker"] = connectionString,
            ["Database:MigrateOnStart"] = "false",
            ["Vault:Keys:0:Id"] = "bench-1",
            ["Vault:Keys:0:Key"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Tesla:ClientId"] = SimWorld.BrokerClient,
            ["Tesla:ClientSecret"] = SimWorld.Secret,
            ["Tesla:AuthBaseUrl"] = SimWorld.AuthBase,
            ["Tesla:TokenEndpoint"] = SimWorld.AuthBase + "/oauth2/v3/token",
            ["Tesla:Regions:na"] = SimWorld.NaBase,
            ["Tesla:Regions:eu"] = SimWorld.EuBase,
            ["Tesla:Regions:cn"] = "http://fleet-cn.test",
            ["Tesla:AllowHttp"] = "true",
            ["Jobs:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in settings.Concat(extra ?? new Dictionary<string, string?>()))
        {
            builder.UseSetting(k, v);
        }
        builder.ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        builder.ConfigureServices(services =>
        {
            services.ConfigureHttpClientDefaults(http => http.ConfigurePrimaryHttpMessageHandler(simulator.Server.CreateHandler));
            services.AddSingleton(time);
        });
    }

    public async Task MigrateAsync()
    {
        await using var scope = Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<BrokerDbContext>().Database.MigrateAsync();
    }

    public HttpClient Browser() => CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
}
