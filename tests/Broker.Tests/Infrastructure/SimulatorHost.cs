extern alias simulator;

using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// The Tesla simulator hosted in-process. Its base URLs are fictitious hosts: requests reach it
/// through <see cref="WebApplicationFactory{T}.Server"/>'s handler, which keeps the Host header, so
/// the simulator still tells the regions apart (and answers 421 from the wrong one).
/// </summary>
public sealed class SimulatorHost : WebApplicationFactory<simulator::TeslaSimulator.SimulatorMarker>
{
    public const string AuthBase = "http://tesla-auth.test";
    public const string NaBase = "http://fleet-na.test";
    public const string EuBase = "http://fleet-eu.test";
    public const string ClientId = "broker-test";
    public const string ClientSecret = "test-client-secret";

    public List<string> RedirectUris { get; } = ["http://localhost/connect/callback"];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(Settings()));
    }

    private Dictionary<string, string?> Settings()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Simulator:AuthBaseUrl"] = AuthBase,
            ["Simulator:Regions:na"] = NaBase,
            ["Simulator:Regions:eu"] = EuBase,
            ["Simulator:Clients:0:ClientId"] = ClientId,
            ["Simulator:Clients:0:ClientSecret"] = ClientSecret,
        };
        for (var i = 0; i < RedirectUris.Count; i++)
        {
            settings[$"Simulator:Clients:0:RedirectUris:{i}"] = RedirectUris[i];
        }
        return settings;
    }

    /// <summary>A client for the simulator's control API (<c>/_sim/...</c>) and its pages.</summary>
    public HttpClient CreateControlClient() => CreateClient(new WebApplicationFactoryClientOptions
    {
        BaseAddress = new Uri(AuthBase), AllowAutoRedirect = false,
    });
}
