from django.http import JsonResponse

from .models import ApiKey


def api_key_required(view):
    def wrapper(request, *args, **kwargs):
        raw = request.headers.get("X-Api-Key", "")
        key = ApiKey.objects.select_related("team").filter(prefix=raw[:8]).first() if len(raw) > 8 else None
        if key is None or not key.matches(raw) or not key.is_usable():
            return JsonResponse({"error": "invalid api key"}, status=401)
        request.api_team = key.team
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    return wrapper
