using System.Text;

namespace Broker.Tests.Commands;

/// <summary>POST …/commands/{name} as a client sends it: a JSON body when there is one, an Idempotency-Key when given.</summary>
internal static class CommandRequests
{
    public static async Task<HttpResponseMessage> SendCommandAsync(this HttpClient api, Guid account, string vin, string name, string body, string? key = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/accounts/{account}/vehicles/{vin}/commands/{name}");
        if (body.Length > 0)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        if (key is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        }
        return await api.SendAsync(request, TestContext.Current.CancellationToken);
    }
}
