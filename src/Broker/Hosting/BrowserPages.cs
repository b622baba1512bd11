using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.AspNetCore.WebUtilities;

namespace Broker.Hosting;

/// <summary>
/// Pages for people in a browser outside the console and connect flows: the landing page at <c>/</c>, and HTML error
/// pages wherever a browser would otherwise be shown problem+json (an unknown address, an expired form). API clients
/// still get problem+json: under <c>/api</c> always, elsewhere whenever they do not ask for HTML.
/// </summary>
public static class BrowserPages
{
    /// <summary>
    /// Renders a page component where no endpoint result runs (an error writer, an authentication event). <paramref name="selfOnly"/>
    /// false keeps the headers a middleware already set (the connect pages' policy lets their forms go on to Tesla).
    /// </summary>
    public static async Task RenderAsync<TPage>(HttpContext http, int status, Dictionary<string, object?> parameters, bool selfOnly = true)
        where TPage : IComponent
    {
        await using var renderer = new HtmlRenderer(http.RequestServices, http.RequestServices.GetRequiredService<ILoggerFactory>());
        var html = await renderer.Dispatcher.InvokeAsync(async () =>
            (await renderer.RenderComponentAsync<TPage>(ParameterView.FromDictionary(parameters))).ToHtmlString());
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/html; charset=utf-8";
        http.Response.Headers.CacheControl = "no-store";
        if (selfOnly)
        {
            PageHeaders.Apply(http.Response, PageHeaders.SelfOnly);
        }
        await http.Response.WriteAsync(html);
    }

    /// <summary>Whether this request is a person's browser asking for a page (not the API, not a scraper).</summary>
    internal static bool WantsHtml(HttpRequest request) =>
        !request.Path.StartsWithSegments("/api") && !request.Path.StartsWithSegments("/metrics")
        && request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase));
}

/// <summary>Problem details as an HTML page for a browser; registered ahead of the framework's JSON writer.</summary>
internal sealed class BrowserProblemDetailsWriter : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => BrowserPages.WantsHtml(context.HttpContext.Request);

    public async ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        var status = context.ProblemDetails.Status ?? http.Response.StatusCode;
        var (title, detail) = status switch
        {
            404 => ("Page not found", "There is nothing at this address. If someone sent you a link, check that it was copied whole."),
            405 => ("This address does not take that request", "The page you came from may be out of date. Go back and reload it."),
            429 => ("Too many tries", $"Too many requests from your address in a short time. Wait {http.Response.Headers.RetryAfter.FirstOrDefault() ?? "60"} seconds, then try again."),
            _ => (context.ProblemDetails.Title ?? ReasonPhrases.GetReasonPhrase(status),
                context.ProblemDetails.Detail ?? "The request could not be completed. Go back and try again."),
        };
        await BrowserPages.RenderAsync<Pages.ErrorPage>(http, status, new()
        {
            [nameof(Pages.ErrorPage.Status)] = status, [nameof(Pages.ErrorPage.Title)] = title, [nameof(Pages.ErrorPage.Detail)] = detail,
        });
    }
}
