using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using Broker.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Hosting;

/// <summary>
/// X-Forwarded-Proto/Host decide the https links Broker hands out (connect links, OAuth callbacks), so
/// only the configured proxy is believed. Real sockets: the proxy connects from 127.0.0.2, anyone else from 127.0.0.1.
/// </summary>
public sealed class ForwardedHeadersTests(PostgresServer postgres)
{
    private const string Proxy = "127.0.0.2";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private string _apiKey = "";

    private sealed record Link(string Url);

    [Fact]
    public async Task OnlyTheConfiguredProxyMayClaimHttpsAndThePublicHost()
    {
        await using var simulator = new SimulatorHost();
        await using var broker = new BrokerApplication(await postgres.CreateDatabaseAsync(), simulator,
            new() { ["ForwardedHeaders:KnownProxies:0"] = Proxy });
        var port = PostgresServer.FreePort();
        var direct = $"http://127.0.0.1:{port}";
        broker.StartOnRealPort(port);
        await CreateTenantKeyAsync(broker);

        var fromProxy = await CreateLinkAsync(port, from: IPAddress.Parse(Proxy));
        var fromElsewhere = await CreateLinkAsync(port, from: IPAddress.Loopback);

        Assert.StartsWith("https://broker.example.com/connect/", fromProxy);
        Assert.StartsWith($"{direct}/connect/", fromElsewhere);
    }

    /// <summary>nginx passes the browser's Host on (as Host and X-Forwarded-Host): AllowedHosts keeps a forged one out of the links.</summary>
    [Fact]
    public async Task WithAllowedHostsAForgedHostNeverReachesTheLinks()
    {
        await using var simulator = new SimulatorHost();
        await using var broker = new BrokerApplication(await postgres.CreateDatabaseAsync(), simulator, new()
        {
            ["ForwardedHeaders:KnownProxies:0"] = Proxy,
            ["AllowedHosts"] = "broker.example.com;127.0.0.1",
        });
        var port = PostgresServer.FreePort();
        broker.StartOnRealPort(port);
        await CreateTenantKeyAsync(broker);

        Assert.StartsWith("https://broker.example.com/connect/", await CreateLinkAsync(port, from: IPAddress.Parse(Proxy)));
        var forwardedForged = await CreateLinkAsync(port, from: IPAddress.Parse(Proxy), forwardedHost: "evil.example.net");
        Assert.DoesNotContain("evil.example.net", forwardedForged);
        var hostForged = await PostLinkAsync(port, from: IPAddress.Parse(Proxy), forwardedHost: "evil.example.net", host: "evil.example.net");
        Assert.Equal(HttpStatusCode.BadRequest, hostForged.StatusCode);
    }

    private async Task CreateTenantKeyAsync(BrokerApplication broker)
    {
        await using var scope = broker.Services.CreateAsyncScope();
        var provisioning = scope.ServiceProvider.GetRequiredService<global::Broker.Tenants.TenantProvisioning>();
        var tenant = await provisioning.EnsureTenantAsync("household", "The Household", Ct);
        _apiKey = await provisioning.AddApiKeyAsync(tenant.Id, "test", Ct);
    }

    private async Task<string> CreateLinkAsync(int port, IPAddress from, string forwardedHost = "broker.example.com")
    {
        var response = await PostLinkAsync(port, from, forwardedHost);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<Link>(Ct))!.Url;
    }

    private async Task<HttpResponseMessage> PostLinkAsync(int port, IPAddress from, string forwardedHost, string? host = null)
    {
        using var http = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(from, 0));
                await socket.ConnectAsync(IPAddress.Loopback, port, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        }) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _apiKey);
        http.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        http.DefaultRequestHeaders.Add("X-Forwarded-Host", forwardedHost);
        http.DefaultRequestHeaders.Add("X-Forwarded-For", "203.0.113.7");
        if (host is not null)
        {
            http.DefaultRequestHeaders.Host = host;
        }
        return await http.PostAsJsonAsync("/api/v1/connect-links", new { label = "forwarded" }, Ct);
    }
}
