extern alias simulator;

using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// The Tesla simulator hosted in-process. Its base URLs are fictitious hosts: requests reach it
/// through <see cref="WebApplicationFactory{T}.Server"/>'s handler, which keeps the Host header, so
/// the simulator still tells the regions apart (and answers 421 from the wrong one).
/// Browser tests give it a real loopback auth base instead and call <see cref="StartOnRealPort"/>; a broker in a
/// process of its own needs real loopback region bases too (<paramref name="naBaseUrl"/>, <paramref name="euBaseUrl"/>).
/// </summary>
public sealed class SimulatorHost(string authBaseUrl = SimulatorHost.AuthBase, string naBaseUrl = SimulatorHost.NaBase, string euBaseUrl = SimulatorHost.EuBase)
    : WebApplicationFactory<simulator::TeslaSimulator.SimulatorMarker>
{
    public const string AuthBase = "http://tesla-auth.test";
    public const string NaBase = "http://fleet-na.test";
    public const string EuBase = "http://fleet-eu.test";
    public const string ClientId = "broker-test";
    public const string ClientSecret = "test-client-secret";
    // Tesla China: an auth server, a Fleet API host and an app of its own (tesla-confirmed §2).
    public const string CnAuthBase = "http://tesla-auth-cn.test";
    public const string CnBase = "http://fleet-cn.test";
    public const string CnClientId = "broker-test-cn";
    public const string CnClientSecret = "test-cn-client-secret";

    private int? _port;

    /// <summary>Where browsers sign in and the broker fetches discovery and tokens; the discovery document names it.</summary>
    public string AuthBaseUrl { get; } = authBaseUrl.TrimEnd('/');

    public string NaBaseUrl { get; } = naBaseUrl.TrimEnd('/');
    public string EuBaseUrl { get; } = euBaseUrl.TrimEnd('/');

    public List<string> RedirectUris { get; } = ["http://localhost/connect/callback"];

    /// <summary>More simulator configuration (e.g. <c>Simulator:AccessTokenLifetimeSeconds</c>, <c>Simulator:SeedFile</c>).</summary>
    public Dictionary<string, string?> Overrides { get; init; } = [];

    /// <summary>Another seed file (accounts, cars) than the simulator's demo fleet.</summary>
    public string? SeedFile { get; init; }

    /// <summary>A clock shared with the broker, so cars drive, charge and fall asleep on test time.</summary>
    public TimeProvider? Clock { get; init; }

    /// <summary>
    /// The web the simulator downloads partner public keys from, as Tesla fetches <c>https://&lt;domain&gt;/.well-known/…</c>
    /// (usually the broker's in-memory server). Read when the first download happens; unset, every download answers 404.
    /// </summary>
    public Func<HttpMessageHandler>? PartnerWeb { get; set; }

    /// <summary>
    /// Listens with Kestrel on the auth base URL's port, so a real browser can reach the sign-in pages, and on the
    /// region bases' ports where they are loopback URLs (a broker process of its own calls them over real HTTP).
    /// </summary>
    public void StartOnRealPort()
    {
        var port = new Uri(AuthBaseUrl).Port;
        _port = port;
        var regionPorts = new[] { NaBaseUrl, EuBaseUrl }.Select(u => new Uri(u)).Where(u => u.IsLoopback).Select(u => u.Port);
        // Not UseKestrel(port): that sets the address after Build() and races the app's own Run() (see BrokerApplication).
        UseKestrel(kestrel =>
        {
            foreach (var p in regionPorts.Prepend(port).Distinct())
            {
                kestrel.ListenLocalhost(p);
            }
        });
        StartServer();
    }

    /// <summary>
    /// The broker's way in. In memory by default; on a real port, real HTTP where every host name
    /// (the fictitious region hosts too) connects to that port, so the Host header still names the region.
    /// </summary>
    /// <summary>
    /// Builds the in-memory server now, from the calling thread. WebApplicationFactory builds it on first use, and not
    /// thread-safely: when a broker's background work and the test reached a new simulator at the same moment, each could
    /// build a server of its own, with its own auth store, so a code issued by one was unknown to the other
    /// (invalid_auth_code in ClusteredPollingTests, only under load). A simulator on a real port is started by
    /// <see cref="StartOnRealPort"/> instead.
    /// </summary>
    public void EnsureStarted()
    {
        if (_port is null)
        {
            _ = Server;
        }
    }

    public HttpMessageHandler CreateHandler() => _port is not { } port
        ? Server.CreateHandler()
        : new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(IPAddress.Loopback, port, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(Settings()));
        builder.ConfigureTestServices(s =>
        {
            if (Clock is { } clock)
            {
                s.AddSingleton(clock);
            }
            s.AddHttpClient(simulator::TeslaSimulator.SimulatorMarker.PartnerKeyDownloadClient)
                .ConfigurePrimaryHttpMessageHandler(() => PartnerWeb?.Invoke() ?? new NotFoundHandler());
        });
    }

    private Dictionary<string, string?> Settings()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Simulator:AuthBaseUrl"] = AuthBaseUrl,
            ["Simulator:Regions:na"] = NaBaseUrl,
            ["Simulator:Regions:eu"] = EuBaseUrl,
            ["Simulator:Clients:0:ClientId"] = ClientId,
            ["Simulator:Clients:0:ClientSecret"] = ClientSecret,
            ["Simulator:Regions:cn"] = CnBase,
            ["Simulator:Auth:cn:AuthBaseUrl"] = CnAuthBase,
            ["Simulator:Clients:1:ClientId"] = CnClientId,
            ["Simulator:Clients:1:ClientSecret"] = CnClientSecret,
            ["Simulator:Clients:1:Realm"] = "cn",
        };
        if (SeedFile is not null)
        {
            settings["Simulator:SeedFile"] = SeedFile;
        }
        for (var i = 0; i < RedirectUris.Count; i++)
        {
            settings[$"Simulator:Clients:0:RedirectUris:{i}"] = RedirectUris[i];
            settings[$"Simulator:Clients:1:RedirectUris:{i}"] = RedirectUris[i];
        }
        foreach (var (key, value) in Overrides)
        {
            settings[key] = value;
        }
        return settings;
    }

    private sealed class NotFoundHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.NotFound));
    }

    /// <summary>A client for the simulator's control API (<c>/_sim/...</c>) and its pages.</summary>
    /// On a real port it is a plain HTTP client: the factory's client would follow redirects there (into the broker).
    public HttpClient CreateControlClient() => _port is null
        ? CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri(AuthBaseUrl), AllowAutoRedirect = false })
        : new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseProxy = false }) { BaseAddress = new Uri(AuthBaseUrl) };
}
