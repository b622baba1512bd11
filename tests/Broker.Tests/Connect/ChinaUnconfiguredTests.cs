using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.Connect;

/// <summary>China needs an app of its own (developer.tesla.cn): until Tesla:Auth:cn:ClientId is set it is nowhere offered.</summary>
public sealed class ChinaUnconfiguredTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    protected override Dictionary<string, string?> BrokerSettings => new()
    {
        ["Tesla:Auth:cn:ClientId"] = "", ["Tesla:Auth:cn:ClientSecret"] = "", ["Partner:Domain"] = "broker.test",
    };

    [Fact]
    public async Task ChinaIsNeitherOfferedNorAcceptedUntilItsAppIsConfigured()
    {
        var user = NewUser();
        var page = await user.Browser.GetStringAsync($"/connect/{LinkToken}", Ct);
        Assert.DoesNotContain("mainland China", page);
        Assert.DoesNotContain("name=\"realm\"", page);

        var start = await user.Browser.PostAsync($"/connect/{LinkToken}/start", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = TeslaUser.Hidden(page, "__RequestVerificationToken"), ["realm"] = "cn",
        }), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, start.StatusCode);
        Assert.Contains("data-reason=\"realm_unavailable\"", await start.Content.ReadAsStringAsync(Ct));
        var link = await ApiClient(ApiKey).PostAsJsonAsync("/api/v1/connect-links", new { region = "cn" }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, link.StatusCode);
    }

    [Fact]
    public async Task PartnerRegistrationLeavesChinaOutAndRefusesItByNameWithWhatToSet()
    {
        var operatorApi = ApiClient(BrokerApplication.OperatorToken);
        await operatorApi.PostAsync("/api/v1/partner/key", null, Ct);

        var status = await operatorApi.GetFromJsonAsync<JsonElement>("/api/v1/partner", Ct);
        Assert.Equal(["eu", "na"], status.GetProperty("regions").EnumerateArray().Select(r => r.GetString()));
        var china = await operatorApi.PostAsJsonAsync("/api/v1/partner/registrations", new { region = "cn" }, Ct);

        Assert.Equal(HttpStatusCode.Conflict, china.StatusCode);
        Assert.Contains("Tesla:Auth:cn:ClientId", await china.Content.ReadAsStringAsync(Ct));
    }
}
