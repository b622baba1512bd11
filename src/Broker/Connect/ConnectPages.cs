using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;

namespace Broker.Connect;

/// <summary>
/// Renders a page component where no endpoint is running (inside the OpenID Connect handler's
/// failure event). Endpoints use <c>RazorComponentResult</c> instead.
/// </summary>
internal static class ConnectPages
{
    public static async Task RenderAsync<TPage>(HttpContext http, int status, Dictionary<string, object?> parameters)
        where TPage : IComponent
    {
        await using var renderer = new HtmlRenderer(http.RequestServices, http.RequestServices.GetRequiredService<ILoggerFactory>());
        var html = await renderer.Dispatcher.InvokeAsync(async () =>
            (await renderer.RenderComponentAsync<TPage>(ParameterView.FromDictionary(parameters))).ToHtmlString());
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/html; charset=utf-8";
        http.Response.Headers.CacheControl = "no-store";
        await http.Response.WriteAsync(html);
    }
}
