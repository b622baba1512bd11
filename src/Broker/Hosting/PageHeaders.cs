namespace Broker.Hosting;

/// <summary>
/// The headers of every HTML page Broker serves: no script may run, nothing may frame it, no referrer leaves it,
/// forms go only where the page's policy says.
/// </summary>
public static class PageHeaders
{
    /// <summary>For pages whose forms post only to Broker itself (the landing and error pages).</summary>
    public static readonly string SelfOnly = Policy("'self'");

    public static string Policy(string formAction) =>
        $"default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action {formAction}; frame-ancestors 'none'; base-uri 'none'";

    public static void Apply(HttpResponse response, string policy)
    {
        var headers = response.Headers;
        headers.ContentSecurityPolicy = policy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";
    }
}
