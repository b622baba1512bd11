using System.Net;
using System.Net.Http.Headers;
using Broker.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Broker.Tests.Data;

public sealed class DatabaseOutageTests
{
    [Fact]
    public async Task RequestsDuringADatabaseOutageGetA503ProblemWithRetryAfter()
    {
        await using var app = new UnreachableDatabaseBroker();
        var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "brk_some-key");

        var response = await client.GetAsync("/api/v1/accounts", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/readyz", TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz", TestContext.Current.CancellationToken)).StatusCode); // alive: do not restart it
    }

    /// <summary>A broker whose Postgres is a closed loopback port.</summary>
    private sealed class UnreachableDatabaseBroker : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Testing");
            builder.UseSetting("ConnectionStrings:Broker", $"Host=127.0.0.1;Port={PostgresServer.FreePort()};Database=broker;Timeout=2");
            builder.UseSetting("Vault:Keys:0:Id", "k");
            builder.UseSetting("Vault:Keys:0:Key", BrokerApplication.VaultKey);
            builder.UseSetting("Tesla:ClientId", "client");
            builder.UseSetting("Jobs:Enabled", "false");
        }
    }
}
