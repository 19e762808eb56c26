import time
from dataclasses import dataclass, field


@dataclass
class Agent:
    id: int
    email: str
    password_hash: str
    role: str = "agent"


@dataclass
class Ticket:
    id: int
    subject: str
    body: str
    assignee_id: int | None = None
    status: str = "open"


@dataclass
class Session:
    agent_id: int
    expires_at: float


@dataclass
class Store:
    agents: dict = field(default_factory=dict)
    tickets: dict = field(default_factory=dict)
    sessions: dict = field(default_factory=dict)

    def agent_by_email(self, email):
        return next((a for a in self.agents.values() if a.email == email), None)

    def put_session(self, sid, agent_id, ttl):
        self.sessions[sid] = Session(agent_id, time.time() + ttl)

    def get_session(self, sid):
        session = self.sessions.get(sid)
        if session is None:
            return None
        if session.expires_at <= time.time():
            del self.sessions[sid]
            return None
        return session

    def drop_sessions_for(self, agent_id):
        for sid in [s for s, v in self.sessions.items() if v.agent_id == agent_id]:
            del self.sessions[sid]
