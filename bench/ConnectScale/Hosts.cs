extern alias simulator;

using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ConnectScale;

/// <summary>The Tesla simulator on a loopback port (people sign in there), its regions fictitious hosts reached through the same port.</summary>
public sealed class SimulatorApp(string seedFile, int port) : WebApplicationFactory<simulator::TeslaSimulator.SimulatorMarker>
{
    public const string NaBase = "http://fleet-na.test";
    public const string EuBase = "http://fleet-eu.test";
    public const string ClientId = "broker-connectscale";
    public const string Secret = "connectscale-client-secret";

    public string AuthBase => $"http://127.0.0.1:{port}";

    public void Start()
    {
        UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        StartServer();
    }

    /// <summary>Every host name connects to the simulator's port; the Host header names the region.</summary>
    public HttpMessageHandler CreateHandler() => new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        ConnectCallback = async (_, ct) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(IPAddress.Loopback, port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        },
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Bench");
        foreach (var (k, v) in new Dictionary<string, string>
        {
            ["Simulator:AuthBaseUrl"] = AuthBase, ["Simulator:Regions:na"] = NaBase, ["Simulator:Regions:eu"] = EuBase,
            ["Simulator:SeedFile"] = seedFile, ["Logging:LogLevel:Default"] = "Warning",
        })
        {
            builder.UseSetting(k, v);
        }
    }
}

/// <summary>The broker as deployed behind nginx (Quartz on, trusting only nginx's proxy_bind address), on a loopback port.</summary>
public sealed class BrokerApp(string connectionString, SimulatorApp simulator, int port) : WebApplicationFactory<Program>
{
    public void Start()
    {
        UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        StartServer();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        foreach (var (k, v) in new Dictionary<string, string>
        {
            ["ConnectionStrings:Broker"] = connectionString,
            ["Database:MigrateOnStart"] = "false",
            ["Vault:Keys:0:Id"] = "bench-1",
            ["Vault:Keys:0:Key"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Tesla:ClientId"] = SimulatorApp.ClientId,
            ["Tesla:ClientSecret"] = SimulatorApp.Secret,
            ["Tesla:AuthBaseUrl"] = simulator.AuthBase,
            ["Tesla:TokenEndpoint"] = simulator.AuthBase + "/oauth2/v3/token",
            ["Tesla:Regions:na"] = SimulatorApp.NaBase,
            ["Tesla:Regions:eu"] = SimulatorApp.EuBase,
            ["Tesla:Regions:cn"] = "http://fleet-cn.test",
            ["Tesla:AllowHttp"] = "true",
            ["ForwardedHeaders:KnownProxies:0"] = Nginx.ProxyAddress,
            // A hundred people arrive from one address here (nginx forwards 127.0.0.1); in life from a hundred.
            ["Console:ConnectPerMinute"] = "10000",
            ["Logging:LogLevel:Default"] = "Warning",
        })
        {
            builder.UseSetting(k, v);
        }
        builder.ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        builder.ConfigureServices(services => services.ConfigureHttpClientDefaults(http => http.ConfigurePrimaryHttpMessageHandler(simulator.CreateHandler)));
    }
}
