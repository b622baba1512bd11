using System.Net;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.Connect;

/// <summary>Starting a connect is rate-limited per client address, so a script cannot drive Tesla's sign-in through Broker.</summary>
public sealed class ConnectRateLimitTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    protected override Dictionary<string, string?> BrokerSettings => new() { ["Console:ConnectPerMinute"] = "2" };

    [Fact]
    public async Task ConnectStartsBeyondTheLimitAreRefusedWith429UntilTheWindowPasses()
    {
        var user = NewUser();
        await user.StartAsync(LinkToken);
        await user.StartAsync(LinkToken);

        var page = await user.Browser.GetStringAsync($"/connect/{LinkToken}", Ct);
        var form = new FormUrlEncodedContent([new("__RequestVerificationToken", TeslaUser.Hidden(page, "__RequestVerificationToken"))]);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/connect/{LinkToken}/start") { Content = form };
        request.Headers.Accept.ParseAdd("text/html");   // as a browser asks
        var third = await user.Browser.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        // When to come back, in the header and in words.
        var wait = Assert.Single(third.Headers.GetValues("Retry-After"));
        Assert.InRange(int.Parse(wait), 1, 60);
        Assert.Contains($"Wait {wait} seconds", await third.Content.ReadAsStringAsync(Ct));
    }
}
