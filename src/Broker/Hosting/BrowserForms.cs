using Microsoft.AspNetCore.Antiforgery;

namespace Broker.Hosting;

/// <summary>
/// Every state-changing request to a browser-facing group (console, connect) must carry the page's antiforgery
/// token, whether or not its handler reads a form field. The framework's middleware validates only endpoints whose
/// metadata asks for it, and on its own refuses nothing: a handler that binds a form field fails, one without fields
/// (revoke, remove, sign-out) would run. So the group asks for validation on every endpoint, and a filter refuses
/// any unsafe method whose token the middleware did not find valid (or never looked at: fail closed).
/// </summary>
public static class BrowserForms
{
    public const string ExpiredTitle = "This form has expired";
    public const string ExpiredDetail = "The form's security token is missing or no longer valid. Go back, reload the page and try again.";

    public static RouteGroupBuilder RequireAntiforgeryOnEveryPost(this RouteGroupBuilder group)
    {
        group.WithMetadata(new RequireAntiforgeryTokenAttribute(required: true));
        group.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            if (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method) || HttpMethods.IsOptions(http.Request.Method))
            {
                return await next(context);
            }
            return http.Features.Get<IAntiforgeryValidationFeature>() is { IsValid: true }
                ? await next(context)
                : TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: ExpiredTitle, detail: ExpiredDetail);
        });
        return group;
    }
}
