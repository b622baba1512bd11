using Broker.Tesla;
using Microsoft.Extensions.Options;

namespace Broker.Connect;

/// <summary>
/// Headers for the connect pages (including the failure pages the callback renders): no script
/// may run, nothing may frame them, forms may only go to Broker and on to Tesla's sign-in.
/// </summary>
public static class ConnectPageHeaders
{
    public static IApplicationBuilder UseConnectPageHeaders(this IApplicationBuilder app)
    {
        var tesla = app.ApplicationServices.GetRequiredService<IOptions<TeslaOptions>>().Value;
        var signIn = new Uri(tesla.AuthBaseUrl).GetLeftPart(UriPartial.Authority);
        var policy = $"default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self' {signIn}; frame-ancestors 'none'; base-uri 'none'";
        return app.Use((context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/connect"))
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
}
