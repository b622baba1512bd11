extern alias simulator;

using System.Security.Cryptography;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Commands;

/// <summary>The Tesla simulator in memory on the bench's clock (as bench/FleetDay/Hosts.cs), playing the Fleet API and the cars.</summary>
public sealed class SimWorld(TimeProvider time) : WebApplicationFactory<simulator::TeslaSimulator.SimulatorMarker>
{
    public const string AuthBase = "http://tesla-auth.test";
    public const string NaBase = "http://fleet-na.test";
    public const string EuBase = "http://fleet-eu.test";
    public const string BrokerClient = "broker-bench";
    public const string Secret = "bench-secret";

    /// <summary>Where Tesla downloads the partner's public key from (the broker's in-memory server).</summary>
    public Func<HttpMessageHandler>? PartnerWeb { get; set; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Bench");
        foreach (var (k, v) in new Dictionary<string, string?>
        {
            ["Simulator:AuthBaseUrl"] = AuthBase,
            ["Simulator:Regions:na"] = NaBase,
            ["Simulator:Regions:eu"] = EuBase,
            ["Simulator:Clients:0:ClientId"] = BrokerClient,
            ["Simulator:Clients:0:ClientSecret"] = Secret,
            ["Simulator:Clients:0:RedirectUris:0"] = "http://localhost/connect/callback",
            ["Logging:LogLevel:Default"] = "Warning",
        })
        {
            builder.UseSetting(k, v);
        }
        builder.ConfigureTestServices(s =>
        {
            s.AddSingleton(time);
            s.AddHttpClient(simulator::TeslaSimulator.SimulatorMarker.PartnerKeyDownloadClient)
                .ConfigurePrimaryHttpMessageHandler(() => PartnerWeb!.Invoke());
        });
    }

    public HttpClient Client(string baseUrl = AuthBase) =>
        CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri(baseUrl), AllowAutoRedirect = false });
}

/// <summary>The broker on its own database, its Tesla clients wired to the simulator in memory; no Quartz. A partner domain and an operator token.</summary>
public sealed class BrokerWorld(string connectionString, SimWorld simulator, TimeProvider time) : WebApplicationFactory<Program>
{
    public const string PartnerDomain = "bench.broker.test";
    public const string OperatorToken = "bench-operator-token-0123456789abcdef";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Bench");
        foreach (var (k, v) in new Dictionary<string, string?>
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
            ["Partner:Domain"] = PartnerDomain,
            ["Operator:Token"] = OperatorToken,
            ["Logging:LogLevel:Default"] = "Warning",
        })
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

    public HttpClient Browser() => CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
}
