using Broker.Tesla;
using Microsoft.Extensions.Options;

namespace Broker.Connect;

/// <summary>
/// Headers for the connect and console pages (including the failure pages the callback renders): no script
/// may run, nothing may frame them, forms may only go to Broker and on to Tesla's sign-in.
/// </summary>
public static class ConnectPageHeaders
{
    public static IApplicationBuilder UseConnectPageHeaders(this IApplicationBuilder app)
    {
        var tesla = app.ApplicationServices.GetRequiredService<IOptions<TeslaOptions>>().Value;
        // The start form redirects to the chosen realm's sign-in: the global one, or China's once it is configured.
        var signIn = tesla.Realms.Where(r => r.IsConfigured).Select(r => new Uri(r.AuthBaseUrl).GetLeftPart(UriPartial.Authority)).Distinct();
        var connectPolicy = Policy($"'self' {string.Join(' ', signIn)}");
        // The console's sign-out form ends at the identity provider's end_session endpoint.
        var console = app.ApplicationServices.GetRequiredService<IOptions<People.ConsoleOptions>>().Value.Oidc;
        var consolePolicy = Policy(Uri.TryCreate(console.Authority, UriKind.Absolute, out var authority) ? $"'self' {authority.GetLeftPart(UriPartial.Authority)}" : "'self'");
        return app.Use((context, next) =>
        {
            var policy = context.Request.Path.StartsWithSegments("/connect") ? connectPolicy
                : context.Request.Path.StartsWithSegments("/console") ? consolePolicy
                : null;
            if (policy is not null)
            {
                context.Response.OnStarting(() =>
                {
                    var headers = context.Response.Headers;
                    headers.ContentSecurityPolicy = policy;
                    headers.XContentTypeOptions = "nosniff";
                    headers["Referrer-Policy"] = "no-referrer";
                    headers.XFrameOptions = "DENY";
                    return Task.CompletedTask;
                });
            }
            return next(context);
        });
    }

    private static string Policy(string formAction) =>
        $"default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action {formAction}; frame-ancestors 'none'; base-uri 'none'";
}
