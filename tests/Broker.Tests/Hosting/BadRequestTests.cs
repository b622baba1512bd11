using System.Net;
using System.Text;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.Hosting;

/// <summary>
/// Requests that cannot be bound get the same 400 (415 for a body that is not JSON at all) in every environment. Development used to throw them to the developer
/// page (a 500), and the demo, which runs in Development, is where people try Broker first.
/// </summary>
public sealed class BadRequestTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    public static TheoryData<string, string, string, string?, string> Requests => new()
    {
        { "Development", "/api/v1/connect-links", new string('[', 5_000) + new string(']', 5_000), "application/json", "deep JSON" },
        { "Development", "/api/v1/connect-links", "{\"label\":5}", "application/json", "a number for a string" },
        { "Development", "/api/v1/connect-links", "", "application/json", "an empty body" },
        { "Development", "/api/v1/connect-links", "{\"label\":\"\uFFFF", "application/json", "truncated JSON" },
        { "Development", "/api/v1/connect-links", "[1,2,3]", "application/json", "an array for an object" },
        { "Development", "/api/v1/members", "{\"email\":\"a@example.com\",\"role\":5}", "application/json", "a number for an enum" },
        { "Development", "/api/v1/connect-links", "{\"label\":\"x\"}", "text/plain", "the wrong content type" },
        { "Production", "/api/v1/connect-links", new string('[', 5_000) + new string(']', 5_000), "application/json", "deep JSON" },
        { "Production", "/api/v1/connect-links", "{\"label\":5}", "application/json", "a number for a string" },
        { "Production", "/api/v1/connect-links", "", "application/json", "an empty body" },
        { "Production", "/api/v1/members", "{\"email\":\"a@example.com\",\"role\":5}", "application/json", "a number for an enum" },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task AnUnreadableBodyIsA400ProblemInEveryEnvironment(string environment, string path, string body, string? contentType, string what)
    {
        await using var broker = new BrokerApplication(Broker.ConnectionString, Simulator) { EnvironmentName = environment };
        var client = broker.CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiKey);
        var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = contentType is null ? null : new(contentType);

        var response = await client.PostAsync(path, content, Ct);

        var expected = contentType == "application/json" ? HttpStatusCode.BadRequest : HttpStatusCode.UnsupportedMediaType;
        Assert.True(response.StatusCode == expected, $"{environment}, {what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("Development")]
    [InlineData("Production")]
    public async Task InvalidUtf8AndAConnectStartWithoutItsFormTokenAre400s(string environment)
    {
        await using var broker = new BrokerApplication(Broker.ConnectionString, Simulator) { EnvironmentName = environment };
        var client = broker.CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiKey);
        var invalid = new ByteArrayContent([.. "{\"label\":\""u8, 0xFF, 0xFE, 0xC3, .. "\"}"u8]);
        invalid.Headers.ContentType = new("application/json");
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/api/v1/connect-links", invalid, Ct)).StatusCode);

        var browser = broker.CreateBrowser();
        await browser.GetAsync($"/connect/{LinkToken}", Ct);
        var start = await browser.PostAsync($"/connect/{LinkToken}/start", new FormUrlEncodedContent([new("missing", "true")]), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, start.StatusCode);
    }
}
