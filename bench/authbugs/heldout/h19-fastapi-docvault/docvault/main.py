from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm

from . import auth, files, settings

app = FastAPI(title="docvault")
oauth2 = OAuth2PasswordBearer(tokenUrl="/token")


def current_user(token: str = Depends(oauth2)):
    user = auth.user_for_token(token)
    if user is None:
        raise HTTPException(status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return user


@app.post("/token")
def token(form: OAuth2PasswordRequestForm = Depends()):
    user = auth.authenticate(form.username, form.password)
    if user is None:
        raise HTTPException(status_code=401, detail="incorrect email or password")
    return {"access_token": auth.issue_token(user), "token_type": "bearer"}


@app.post("/documents", status_code=201)
async def upload(request: Request, user=Depends(current_user)):
    data = await request.body()
    if len(data) > settings.MAX_UPLOAD_BYTES:
        raise HTTPException(status_code=413)
    try:
        doc_id, checksum = files.store(user.id, data)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc))
    return {"id": doc_id, "sha256": checksum}


@app.get("/documents/{doc_id}")
def download(doc_id: str, user=Depends(current_user)):
    data = files.load(user.id, doc_id)
    if data is None:
        raise HTTPException(status_code=404)
    return Response(data, media_type="application/octet-stream")
