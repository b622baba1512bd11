using System.Net;
using System.Security.Cryptography;
using Broker.Data;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// The broker on its own fresh database, talking to <see cref="SimulatorHost"/> through real HTTP
/// handlers (no mocked HttpClient: the simulator's in-memory server, or its real port, is the other end).
/// </summary>
public sealed class BrokerApplication(string connectionString, SimulatorHost simulator, Dictionary<string, string?>? overrides = null, TimeProvider? time = null)
    : WebApplicationFactory<Program>
{
    public static readonly string VaultKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>The operator's bearer token every test broker accepts (Operator:Token).</summary>
    public const string OperatorToken = "operator-test-token-0123456789";

    public string ConnectionString { get; } = connectionString;

    /// <summary>Testing by default; Development or Production where a test compares how the environments answer.</summary>
    public string EnvironmentName { get; init; } = "Testing";

    /// <summary>Every log line at Debug and above (the most an operator would turn on to troubleshoot).</summary>
    public LogCollector Logs { get; } = new();

    /// <summary>Every response served while enabled (off by default).</summary>
    public ResponseRecorder Responses { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        simulator.EnsureStarted(); // before this app's background services can reach it from another thread
        builder.UseEnvironment(EnvironmentName);
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Broker"] = ConnectionString,
            ["Vault:Keys:0:Id"] = "test-1",
            ["Vault:Keys:0:Key"] = VaultKey,
            ["Tesla:ClientId"] = SimulatorHost.ClientId,
            ["Tesla:ClientSecret"] = SimulatorHost.ClientSecret,
            ["Tesla:AuthBaseUrl"] = simulator.AuthBaseUrl,
            ["Tesla:TokenEndpoint"] = simulator.AuthBaseUrl + "/oauth2/v3/token",
            ["Tesla:Regions:na"] = SimulatorHost.NaBase,
            ["Tesla:Regions:eu"] = SimulatorHost.EuBase,
            ["Tesla:Regions:cn"] = SimulatorHost.CnBase,
            // China configured as an operator would (docs/china.md); tests of an unconfigured China clear the client id.
            ["Tesla:Auth:cn:ClientId"] = SimulatorHost.CnClientId,
            ["Tesla:Auth:cn:ClientSecret"] = SimulatorHost.CnClientSecret,
            ["Tesla:Auth:cn:AuthBaseUrl"] = SimulatorHost.CnAuthBase,
            ["Tesla:Auth:cn:TokenEndpoint"] = SimulatorHost.CnAuthBase + "/oauth2/v3/token",
            ["Tesla:AllowHttp"] = "true",
            ["Jobs:Enabled"] = "false", // tests that poll turn the scheduler on
            ["Operator:Token"] = OperatorToken,
            // Tests change data and scrape again at once (on a frozen clock); Metrics/ScrapeCacheTests turn the cache on.
            ["Metrics:CacheSeconds"] = "0",
        };
        foreach (var (key, value) in overrides ?? [])
        {
            settings[key] = value;
        }
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(settings));
        builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(Logs));
        builder.ConfigureServices(services =>
        {
            services.AddSingleton<IStartupFilter>(new ResponseRecorder.Filter(Responses));
            services.ConfigureHttpClientDefaults(http => http.ConfigurePrimaryHttpMessageHandler(simulator.CreateHandler));
            if (time is not null)
            {
                services.AddSingleton(time);
            }
        });
    }

    /// <summary>Listens with Kestrel on a real loopback port, for a real browser; returns the base URL.</summary>
    public string StartOnRealPort(int port)
    {
        // Not UseKestrel(port): .NET 10's factory adds that address after Build(), while a minimal-hosting
        // Program may already be starting Kestrel on its own thread ("Addresses cannot be modified after
        // the server has started", seen under load). Listen options are applied before Build().
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        StartServer();
        return $"http://127.0.0.1:{port}";
    }

    public BrokerDbContext CreateDbContext() => PostgresServer.CreateDbContext(ConnectionString);

    /// <summary>A browser-like client: keeps cookies, does not follow redirects (tests walk them).</summary>
    public HttpClient CreateBrowser() => CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
}
